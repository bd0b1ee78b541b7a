using System.Text;

namespace EdgeCache.Engine;

/// <summary>
/// Builds the primary cache key: scheme, host (lower-cased, default port removed), path and
/// query as received, optionally with the query normalised by the host's policy.
/// </summary>
public static class CacheKey
{
    public static string Build(string scheme, string host, string pathAndQuery, HostCachePolicy policy)
    {
        host = NormalizeHost(scheme, host);
        if (policy.NormalizesQuery)
        {
            pathAndQuery = NormalizeQuery(pathAndQuery, policy);
        }

        return string.Concat(scheme, "://", host, pathAndQuery);
    }

    public static string NormalizeHost(string scheme, string host)
    {
        if (host.EndsWith(":80", StringComparison.Ordinal) && scheme == "http")
        {
            host = host[..^3];
        }
        else if (host.EndsWith(":443", StringComparison.Ordinal) && scheme == "https")
        {
            host = host[..^4];
        }

        foreach (var c in host)
        {
            if (c is >= 'A' and <= 'Z') return host.ToLowerInvariant();
        }

        return host;
    }

    /// <summary>The host part of a primary key (for host purges and tests).</summary>
    public static string HostOf(string primaryKey)
    {
        var start = primaryKey.IndexOf("://", StringComparison.Ordinal) + 3;
        var end = primaryKey.IndexOf('/', start);
        return end < 0 ? primaryKey[start..] : primaryKey[start..end];
    }

    internal static string NormalizeQuery(string pathAndQuery, HostCachePolicy policy)
    {
        var q = pathAndQuery.IndexOf('?');
        if (q < 0) return pathAndQuery;
        var parts = new List<string>(pathAndQuery[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries));
        if (policy.IgnoreQueryParameters.Length > 0)
        {
            parts.RemoveAll(p => IsIgnored(p, policy.IgnoreQueryParameters));
        }

        if (policy.SortQuery)
        {
            // Stable by name, so repeated names keep their order.
            var sorted = parts.Select((p, i) => (p, i)).OrderBy(t => NameOf(t.p), StringComparer.Ordinal).ThenBy(t => t.i).Select(t => t.p).ToList();
            parts = sorted;
        }

        var sb = new StringBuilder(pathAndQuery.Length);
        sb.Append(pathAndQuery, 0, q);
        if (parts.Count > 0)
        {
            sb.Append('?').AppendJoin('&', parts);
        }

        return sb.ToString();
    }

    private static string NameOf(string part)
    {
        var eq = part.IndexOf('=');
        return eq < 0 ? part : part[..eq];
    }

    private static bool IsIgnored(string part, string[] patterns)
    {
        var name = NameOf(part);
        foreach (var p in patterns)
        {
            if (p.EndsWith('*') ? name.StartsWith(p.AsSpan(0, p.Length - 1), StringComparison.Ordinal) : name == p)
            {
                return true;
            }
        }

        return false;
    }
}
