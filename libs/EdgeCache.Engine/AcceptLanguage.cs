using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// The Vary normaliser of Accept-Language (RFC 9110 §12.5.4, RFC 4647): language ranges are
/// case-insensitive, whitespace around list members and parameters means nothing, and members are
/// ordered by q-value, members of equal weight keeping their order (it is the user's preference).
/// Values that mean the same select one variant (RFC 9111 §4.1 lets a cache normalise).
/// </summary>
public static class AcceptLanguage
{
    /// <summary>Normalised forms of the values seen, bounded: past the limit values are normalised each time.</summary>
    private static readonly ConcurrentDictionary<string, string> Forms = new(StringComparer.Ordinal);
    private const int FormsLimit = 1024;

    /// <summary>The normalised value: lower-case ranges, by descending q (stable), <c>;q=</c> only
    /// when below 1 and without trailing zeros. An absent field stays distinct from an empty one.</summary>
    public static string Normalize(StringValues value)
    {
        if (value.Count == 0) return Vary.AbsentValue;
        if (value.Count == 1 && value[0] is { } single)
        {
            if (Forms.TryGetValue(single, out var known)) return known;
            var normalized = NormalizeCore(value);
            if (Forms.Count < FormsLimit) Forms.TryAdd(single, normalized);
            return normalized;
        }

        return NormalizeCore(value);
    }

    private static string NormalizeCore(StringValues value)
    {
        var members = new List<(string Range, int Q, string Text)>();
        foreach (var line in value)
        {
            if (line is null) continue;
            foreach (var item in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var parts = item.Split(';', StringSplitOptions.TrimEntries);
                var range = parts[0].ToLowerInvariant();
                if (range.Length == 0) continue;
                var q = 1000;
                var other = new StringBuilder();
                for (var i = 1; i < parts.Length; i++)
                {
                    var eq = parts[i].IndexOf('=');
                    var name = (eq < 0 ? parts[i] : parts[i][..eq]).Trim();
                    var arg = eq < 0 ? "" : parts[i][(eq + 1)..].Trim();
                    if (name.Equals("q", StringComparison.OrdinalIgnoreCase) && TryParseQ(arg, out var parsed)) q = parsed;
                    else other.Append(';').Append(name.ToLowerInvariant()).Append(eq < 0 ? "" : "=" + arg);
                }

                var text = q == 1000 ? range + other : range + other + ";q=" + FormatQ(q);
                members.Add((range, q, text));
            }
        }

        if (members.Count == 0) return "";

        // Stable: OrderByDescending keeps the order of members with equal weight.
        return string.Join(",", members.OrderByDescending(m => m.Q).Select(m => m.Text));
    }

    /// <summary>qvalue (RFC 9110 §12.4.2): 0 to 1 with up to three decimals, in thousandths.</summary>
    private static bool TryParseQ(string s, out int thousandths)
    {
        thousandths = 0;
        if (s.Length == 0 || s.Length > 5 || s[0] is not ('0' or '1')) return false;
        if (s.Length == 1)
        {
            thousandths = (s[0] - '0') * 1000;
            return true;
        }

        if (s[1] != '.') return false;
        var digits = s[2..];
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c)) return false;
        }

        var fraction = digits.Length == 0 ? 0 : int.Parse(digits.PadRight(3, '0'), CultureInfo.InvariantCulture);
        if (s[0] == '1' && fraction != 0) return false;
        thousandths = (s[0] - '0') * 1000 + fraction;
        return true;
    }

    private static string FormatQ(int thousandths) =>
        thousandths == 0 ? "0" : "0." + (thousandths % 1000).ToString("000", CultureInfo.InvariantCulture).TrimEnd('0');
}
