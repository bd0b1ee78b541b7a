using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>Secondary keys (RFC 9111 §4.1): the request header values that a stored response's Vary names.</summary>
public static class Vary
{
    /// <summary>Encodings whose presence in Accept-Encoding matters to a variant; everything else is noise.</summary>
    private static readonly string[] KnownEncodings = ContentCoding.Known;

    /// <summary>
    /// Per-field normalisers (lower-case field name → normal form of the request's value): the one
    /// place a field's variant rule lives. A field not listed is compared as §4.1 allows, as a list
    /// (<see cref="NormalizeList"/>): lines joined, whitespace around members dropped, runs folded.
    /// </summary>
    private static readonly FrozenDictionary<string, Func<StringValues, string>> Normalizers =
        new Dictionary<string, Func<StringValues, string>>(StringComparer.Ordinal)
        {
            ["accept-encoding"] = NormalizeAcceptEncoding,
            ["accept-language"] = AcceptLanguage.Normalize,
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The normalised value of an absent field: NUL cannot occur in a field value (RFC 9110 §5.5).</summary>
    private const string Absent = "\0";

    /// <summary>The normalised value of an absent field, for normalisers that keep absent and empty apart.</summary>
    internal const string AbsentValue = Absent;

    /// <summary>Parses a Vary field into lower-cased names; "*" is kept as its own name.</summary>
    public static string[] ParseNames(StringValues vary)
    {
        if (StringValues.IsNullOrEmpty(vary)) return [];
        var names = new List<string>();
        foreach (var line in vary)
        {
            if (line is null) continue;
            foreach (var raw in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var name = raw.ToLowerInvariant();
                if (!names.Contains(name)) names.Add(name);
            }
        }

        return [.. names];
    }

    public static string[] SelectValues(string[] names, IHeaderDictionary requestHeaders)
    {
        if (names.Length == 0) return [];
        var values = new string[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            values[i] = Normalize(names[i], requestHeaders[names[i]]);
        }

        return values;
    }

    /// <summary>True when the request selects this stored variant (§4.1). Vary: * never matches.</summary>
    public static bool Matches(CachedResponse stored, IHeaderDictionary requestHeaders)
    {
        var names = stored.VaryNames;
        for (var i = 0; i < names.Length; i++)
        {
            if (names[i] == "*") return false;
            if (!string.Equals(stored.VaryValues[i], Normalize(names[i], requestHeaders[names[i]]), StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Normalises a request header value for comparison (§4.1 allows combining lines and removing
    /// whitespace where the syntax allows it): a field without its own normaliser is read as a list
    /// (<see cref="NormalizeList"/>), so <c>a,b</c>, <c>a , b</c> and two lines <c>a</c> and <c>b</c>
    /// select one variant, while <c>b, a</c> and <c>ab</c> do not. Accept-Language has its own
    /// (<see cref="AcceptLanguage"/>). Accept-Encoding becomes the sorted
    /// set of known codings the client accepts (q &gt; 0; <c>x-gzip</c> is gzip), or "identity", so needless
    /// variants are avoided; a client that refuses identity (<c>identity;q=0</c>, or <c>*;q=0</c> without
    /// naming it) gets its own form.
    /// </summary>
    public static string Normalize(string name, StringValues value)
    {
        if (Normalizers.TryGetValue(name, out var normalizer)) return normalizer(value);
        // An absent field only matches an absent field (§4.1), never an empty one.
        if (value.Count == 0) return Absent;
        if (StringValues.IsNullOrEmpty(value)) return "";
        var joined = value.Count == 1 ? value[0]! : string.Join(", ", value.ToArray());
        return NormalizeList(joined);
    }

    /// <summary>Normalised forms of the Accept-Encoding values seen (browsers send a handful), so a
    /// lookup does not split and rebuild strings. Bounded: past the limit values are normalised each time.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> AcceptEncodingForms = new(StringComparer.Ordinal);
    private const int AcceptEncodingFormsLimit = 1024;

    /// <summary><see cref="AcceptEncodingForms"/> looked up by a span, so a lookup from raw request bytes allocates nothing.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> AcceptEncodingFormsBySpan =
        AcceptEncodingForms.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary><see cref="NormalizeAcceptEncoding(StringValues)"/> of a single field line, without allocating once the value has been seen.</summary>
    public static string NormalizeAcceptEncoding(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty) return "identity";
        return AcceptEncodingFormsBySpan.TryGetValue(value, out var known) ? known : NormalizeAcceptEncoding(new StringValues(value.ToString()));
    }

    public static string NormalizeAcceptEncoding(StringValues value)
    {
        if (StringValues.IsNullOrEmpty(value)) return "identity";
        if (value.Count == 1 && value[0] is { } single)
        {
            if (AcceptEncodingForms.TryGetValue(single, out var known)) return known;
            var normalized = NormalizeAcceptEncodingCore(value);
            if (AcceptEncodingForms.Count < AcceptEncodingFormsLimit) AcceptEncodingForms.TryAdd(single, normalized);
            return normalized;
        }

        return NormalizeAcceptEncodingCore(value);
    }

    private static string NormalizeAcceptEncodingCore(StringValues value)
    {
        Span<bool> accepted = stackalloc bool[KnownEncodings.Length];
        Span<bool> refused = stackalloc bool[KnownEncodings.Length];
        var wildcard = false;
        var wildcardRefused = false;
        bool? identity = null;
        foreach (var line in value)
        {
            if (line is null) continue;
            foreach (var item in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var semi = item.IndexOf(';');
                var coding = ContentCoding.Canonical((semi < 0 ? item : item[..semi]).Trim());
                var zero = semi >= 0 && IsZeroQ(item.AsSpan(semi + 1));
                if (coding == "*")
                {
                    wildcard |= !zero;
                    wildcardRefused |= zero;
                    continue;
                }

                if (coding == "identity")
                {
                    identity = (identity ?? true) && !zero;
                    continue;
                }

                for (var i = 0; i < KnownEncodings.Length; i++)
                {
                    // q=0 refuses a coding even when "*" accepts the rest (RFC 9110 §12.5.3).
                    if (coding.Equals(KnownEncodings[i], StringComparison.OrdinalIgnoreCase))
                    {
                        if (zero) refused[i] = true; else accepted[i] = true;
                    }
                }
            }
        }

        var result = "";
        for (var i = 0; i < KnownEncodings.Length; i++)
        {
            if (accepted[i] || (wildcard && !refused[i])) result = result.Length == 0 ? KnownEncodings[i] : result + "," + KnownEncodings[i];
        }

        // identity is acceptable unless refused, by name or by "*;q=0" without naming it (§12.5.3).
        var noIdentity = identity == false || (identity is null && wildcardRefused && !wildcard);
        if (result.Length == 0) return noIdentity ? "identity;q=0" : "identity";
        return noIdentity ? result + ";identity=0" : result;
    }

    private static bool IsZeroQ(ReadOnlySpan<char> parameters)
    {
        parameters = parameters.Trim();
        if (!parameters.StartsWith("q=", StringComparison.OrdinalIgnoreCase)) return false;
        var q = parameters[2..].Trim();
        foreach (var c in q)
        {
            if (c is not ('0' or '.')) return false;
        }

        return true;
    }

    /// <summary>
    /// The normal form of a field read as a list (RFC 9110 §5.6.1): each member without the OWS around
    /// it, runs of HTTP whitespace (SP, HTAB: §5.6.3) inside a member folded to one space, members
    /// joined with <c>", "</c>; quoted strings (§5.6.4) are kept exactly, commas and spaces in them
    /// included. Nothing else changes: not case (an unknown field may be case-sensitive), not order,
    /// not empty members, not Unicode spaces. A value already in normal form (most are) is returned
    /// as it is, so a hit allocates nothing.
    /// </summary>
    internal static string NormalizeList(string value)
    {
        // Each character gives at most one, but a comma two (", ").
        var max = value.Length * 2;
        char[]? rented = null;
        Span<char> buffer = max <= 512 ? stackalloc char[512] : (rented = System.Buffers.ArrayPool<char>.Shared.Rent(max));
        try
        {
            var normal = buffer[..WriteList(value, buffer)];
            return normal.SequenceEqual(value) ? value : new string(normal);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<char>.Shared.Return(rented);
        }
    }

    private static int WriteList(ReadOnlySpan<char> s, Span<char> output)
    {
        var n = 0;
        var inQuotes = false;
        var memberStart = true;
        var pendingSpace = false;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (inQuotes)
            {
                output[n++] = c;
                if (c == '\\' && i + 1 < s.Length) output[n++] = s[++i];
                else if (c == '"') inQuotes = false;
                continue;
            }

            switch (c)
            {
                case ' ' or '\t':
                    pendingSpace = !memberStart;
                    continue;
                case ',':
                    output[n++] = ',';
                    output[n++] = ' ';
                    memberStart = true;
                    pendingSpace = false;
                    continue;
            }

            if (pendingSpace) output[n++] = ' ';
            pendingSpace = false;
            memberStart = false;
            output[n++] = c;
            inQuotes = c == '"';
        }

        return n;
    }
}
