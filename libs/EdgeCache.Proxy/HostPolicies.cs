using EdgeCache.Engine;

namespace EdgeCache.Proxy;

/// <summary>
/// The per-host caching policies in force (<c>EdgeCache:Defaults</c>, <c>EdgeCache:Hosts</c>): the
/// ones bound at start, then those of each valid reload. Their one owner; the options object only
/// holds settings. Requests already under way keep the policy they started with.
/// </summary>
public sealed class HostPolicies
{
    private Snapshot _current;

    public HostPolicies(EdgeCacheOptions options) => _current = new Snapshot(options.Defaults, options.Hosts);

    /// <summary>The policies in force: a new object after every reload (keys built under an older one may differ).</summary>
    public object Version => Volatile.Read(ref _current);

    /// <summary>The caching policy for a Host value (the port, if any, is ignored).</summary>
    public HostCachePolicy For(string host)
    {
        var current = Volatile.Read(ref _current);
        if (current.Hosts.Count == 0) return current.Defaults;
        var colon = host.LastIndexOf(':');
        var name = colon > 0 && host.IndexOf(']') < colon ? host[..colon] : host;
        return current.Hosts.TryGetValue(name, out var p) ? p : current.Defaults;
    }

    /// <summary>Takes the per-host policies of a reloaded, validated configuration.</summary>
    internal void Apply(EdgeCacheOptions reloaded) => Volatile.Write(ref _current, new Snapshot(reloaded.Defaults, reloaded.Hosts));

    private sealed record Snapshot(HostCachePolicy Defaults, Dictionary<string, HostCachePolicy> Hosts);
}
