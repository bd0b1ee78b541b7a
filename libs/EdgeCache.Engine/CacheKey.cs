using System.Text;

namespace EdgeCache.Engine;

/// <summary>
/// Builds the primary cache key: scheme, host (lower-cased, default port removed), path and
/// query as received after RFC 3986 §6.2.2 syntax-based normalisation (see
/// <see cref="NormalizeTarget"/>), optionally with the query normalised by the host's policy.
/// </summary>
public static class CacheKey
{
    public static string Build(string scheme, string host, string pathAndQuery, HostCachePolicy policy)
    {
        host = NormalizeHost(scheme, host);
        pathAndQuery = NormalizeTarget(pathAndQuery);
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

    /// <summary>
    /// RFC 3986 §6.2.2 syntax-based normalisation of an origin-form target, so that every spelling of
    /// one URI is one key (and one purge covers them all): percent-encoded unreserved characters are
    /// decoded (§6.2.2.2), other percent-encodings get upper-case hex digits (§6.2.2.1), and dot segments
    /// are removed from the path (§6.2.2.3, §5.2.4). Reserved characters stay encoded, so <c>%2F</c> is not
    /// a slash. A target with no '%' and no "/." is returned as it is, without allocating.
    /// </summary>
    public static string NormalizeTarget(string pathAndQuery)
    {
        var q = pathAndQuery.IndexOf('?');
        var path = q < 0 ? pathAndQuery.AsSpan() : pathAndQuery.AsSpan(0, q);
        var needsPercent = pathAndQuery.Contains('%', StringComparison.Ordinal);
        var needsDots = path.Contains("/.", StringComparison.Ordinal);
        if (!needsPercent && !needsDots) return pathAndQuery;

        var pathText = needsPercent ? NormalizePercent(path) : path.ToString();
        if (pathText.Contains("/.", StringComparison.Ordinal)) pathText = RemoveDotSegments(pathText);
        if (q < 0) return pathText;
        var query = pathAndQuery.AsSpan(q);
        return string.Concat(pathText, needsPercent ? NormalizePercent(query) : query.ToString());
    }

    private static bool IsUnreserved(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    private static string NormalizePercent(ReadOnlySpan<char> s)
    {
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '%' && i + 2 < s.Length && char.IsAsciiHexDigit(s[i + 1]) && char.IsAsciiHexDigit(s[i + 2]))
            {
                var decoded = (char)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2]));
                if (IsUnreserved(decoded)) sb.Append(decoded);
                else sb.Append('%').Append(char.ToUpperInvariant(s[i + 1])).Append(char.ToUpperInvariant(s[i + 2]));
                i += 2;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>RFC 3986 §5.2.4 remove_dot_segments.</summary>
    internal static string RemoveDotSegments(string path)
    {
        var input = path;
        var output = new StringBuilder(path.Length);
        while (input.Length > 0)
        {
            if (input.StartsWith("../", StringComparison.Ordinal)) input = input[3..];
            else if (input.StartsWith("./", StringComparison.Ordinal)) input = input[2..];
            else if (input.StartsWith("/./", StringComparison.Ordinal)) input = input[2..];
            else if (input == "/.") input = "/";
            else if (input.StartsWith("/../", StringComparison.Ordinal) || input == "/..")
            {
                input = input.Length == 3 ? "/" : input[3..];
                var last = output.ToString().LastIndexOf('/');
                output.Length = Math.Max(0, last);
            }
            else if (input is "." or "..")
            {
                input = "";
            }
            else
            {
                var next = input.IndexOf('/', input[0] == '/' ? 1 : 0);
                var segment = next < 0 ? input : input[..next];
                output.Append(segment);
                input = next < 0 ? "" : input[next..];
            }
        }

        return output.Length == 0 ? "/" : output.ToString();
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
