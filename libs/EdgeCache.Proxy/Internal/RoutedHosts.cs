using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The hosts for which some route matches every GET and HEAD: no method, header or query matchers,
/// a catch-all path, and the host by name (any port) or by a <c>*.</c> wildcard. The fast hit path
/// answers only these hosts; anything else (a path-limited route, a host with a port, no route at
/// all) goes through routing, which refuses unrouted requests. Rebuilt whenever YARP's routes change.
/// </summary>
internal sealed class RoutedHosts
{
    private volatile Snapshot _snapshot = Snapshot.Empty;

    /// <summary>Follows YARP's routes from now on (the endpoint data source signals every change).</summary>
    public void Track(EndpointDataSource endpoints, IProxyStateLookup proxy)
    {
        ChangeToken.OnChange(endpoints.GetChangeToken, () => Rebuild(proxy));
        Rebuild(proxy);
    }

    /// <param name="host">A host name without port.</param>
    public bool Covers(string host)
    {
        var s = _snapshot;
        if (s.AnyHost) return true;
        if (s.Names.Contains(host)) return true;
        foreach (var suffix in s.WildcardSuffixes)
        {
            if (host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) return true;
        }

        return false;
    }

    internal void Rebuild(IProxyStateLookup proxy) => Use(Build(proxy.GetRoutes().Select(r => r.Config)));

    internal void Use(Snapshot snapshot) => _snapshot = snapshot;

    internal static Snapshot Build(IEnumerable<RouteConfig> routes)
    {
        var any = false;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var wildcards = new List<string>();
        foreach (var route in routes)
        {
            var match = route.Match;
            if (match.Methods is { Count: > 0 } || match.Headers is { Count: > 0 } || match.QueryParameters is { Count: > 0 }) continue;
            if (!IsCatchAll(match.Path)) continue;
            if (match.Hosts is not { Count: > 0 } hosts)
            {
                any = true;
                continue;
            }

            foreach (var host in hosts)
            {
                if (string.IsNullOrEmpty(host) || host.Contains(':')) continue;
                if (host.StartsWith("*.", StringComparison.Ordinal))
                {
                    if (host.IndexOf('*', 1) < 0) wildcards.Add(host[1..]);
                }
                else if (!host.Contains('*'))
                {
                    names.Add(host);
                }
            }
        }

        return new Snapshot(any, names, [.. wildcards]);
    }

    private static bool IsCatchAll(string? path)
    {
        if (path is null) return true;
        try
        {
            var pattern = RoutePatternFactory.Parse(path);
            return pattern.PathSegments is [{ Parts: [RoutePatternParameterPart { IsCatchAll: true, ParameterPolicies.Count: 0 }] }];
        }
        catch (RoutePatternException)
        {
            return false;
        }
    }

    internal sealed record Snapshot(bool AnyHost, HashSet<string> Names, string[] WildcardSuffixes)
    {
        public static readonly Snapshot Empty = new(false, new HashSet<string>(StringComparer.OrdinalIgnoreCase), []);
    }
}
