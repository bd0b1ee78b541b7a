namespace EdgeCache.Client;

/// <summary>
/// What a purge or TTL change applies to; every part optional, at least one given. Combine with
/// <c>with</c>: <c>PurgeSelector.ForTags("product-42") with { Urls = ["https://www.example.com/"] }</c>.
/// Hosts outside the key's scope are refused (<see cref="EdgeCacheForbiddenException"/>).
/// </summary>
public sealed record PurgeSelector
{
    /// <summary>Absolute URLs: every <c>Vary</c> variant of each.</summary>
    public IReadOnlyList<string> Urls { get; init; } = [];

    /// <summary>Absolute URL prefixes (scheme, host and the start of the path).</summary>
    public IReadOnlyList<string> Prefixes { get; init; } = [];

    /// <summary>Surrogate keys from the origin's <c>Surrogate-Key</c> or <c>Cache-Tag</c> header, within the key's hosts.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Everything stored for these host names.</summary>
    public IReadOnlyList<string> Hosts { get; init; } = [];

    /// <summary>Everything for all of the key's hosts.</summary>
    public bool All { get; init; }

    public static PurgeSelector ForUrls(params IEnumerable<string> urls) => new() { Urls = [.. urls] };

    public static PurgeSelector ForUrls(params IEnumerable<Uri> urls) => new() { Urls = [.. urls.Select(u => u.AbsoluteUri)] };

    public static PurgeSelector ForPrefixes(params IEnumerable<string> prefixes) => new() { Prefixes = [.. prefixes] };

    public static PurgeSelector ForTags(params IEnumerable<string> tags) => new() { Tags = [.. tags] };

    public static PurgeSelector ForHosts(params IEnumerable<string> hosts) => new() { Hosts = [.. hosts] };

    /// <summary>Everything the key may purge.</summary>
    public static PurgeSelector Everything { get; } = new() { All = true };

    internal bool IsEmpty => !All && Urls.Count == 0 && Prefixes.Count == 0 && Tags.Count == 0 && Hosts.Count == 0;
}
