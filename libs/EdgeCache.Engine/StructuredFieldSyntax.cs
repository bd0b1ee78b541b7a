using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>
/// Checks that a field value is a Structured Field Dictionary (RFC 8941 §3.2, parsed as §4.2.2 says),
/// which is what CDN-Cache-Control is (RFC 9213 §2.1: a targeted field that is empty or fails to parse
/// is ignored, as if absent). A targeted field's directives are read from the same walk
/// (<see cref="TryReadCacheDirectives"/>), as dictionary members: parameters are ignored and a
/// repeated key's last value wins (RFC 8941 §4.2.2), which is not how Cache-Control is read.
/// </summary>
public static class StructuredFieldSyntax
{
    /// <summary>True when the field lines, combined, form a valid, non-empty sf-dictionary.</summary>
    public static bool IsDictionary(StringValues lines) => Check(lines, cacheDirectives: false, out _);

    /// <summary>
    /// True when the field lines form a valid, non-empty sf-dictionary whose delta-seconds directives
    /// (<c>max-age</c>, <c>s-maxage</c>, <c>stale-while-revalidate</c>, <c>stale-if-error</c>) are
    /// sf-integers, as a targeted cache-control field must be (RFC 9213 §2.1): <c>max-age="10000"</c>
    /// is a valid dictionary, but a value of the wrong type makes the whole field ignored.
    /// </summary>
    public static bool IsCacheDirectives(StringValues lines) => Check(lines, cacheDirectives: true, out _);

    /// <summary>
    /// Reads a targeted cache-control field (RFC 9213 §2.1) when <see cref="IsCacheDirectives"/> holds:
    /// each dictionary member is a directive, its value the member's bare item. Parameters on a member
    /// are ignored (<c>max-age=10;foo=bar</c> is max-age 10: RFC 9213 §2.1 ignores parameters it does
    /// not define, RFC 8941 §3.1.2 makes them part of the member, never of its value), and when a key
    /// repeats its last value is the member's (RFC 8941 §4.2.2). False, with default directives, when
    /// the field is to be ignored.
    /// </summary>
    public static bool TryReadCacheDirectives(StringValues lines, out CacheDirectives directives) =>
        Check(lines, cacheDirectives: true, out directives);

    private static bool IsDeltaDirective(ReadOnlySpan<char> key) =>
        key is "max-age" or "s-maxage" or "stale-while-revalidate" or "stale-if-error";

    private static bool Check(StringValues lines, bool cacheDirectives, out CacheDirectives directives)
    {
        directives = default;
        if (StringValues.IsNullOrEmpty(lines)) return false;
        var value = lines.Count == 1 ? lines[0]! : string.Join(", ", lines.ToArray());
        var s = value.AsSpan().Trim(' ');
        if (s.IsEmpty) return false;
        var read = new CacheDirectives { Present = true };
        var i = 0;
        while (true)
        {
            var keyStart = i;
            if (!Key(s, ref i)) return false;
            var key = s[keyStart..i];
            var delta = cacheDirectives && IsDeltaDirective(key);
            var item = ReadOnlySpan<char>.Empty;
            var hasItem = false;
            if (i < s.Length && s[i] == '=')
            {
                i++;
                if (i < s.Length && s[i] == '(')
                {
                    if (delta || !InnerList(s, ref i)) return false;
                }
                else
                {
                    var valueStart = i;
                    if (!BareItem(s, ref i)) return false;
                    item = s[valueStart..i];
                    hasItem = true;
                    if (delta && !IsInteger(item)) return false;
                }
            }
            else if (delta)
            {
                return false; // a bare key is the Boolean true, not an integer
            }

            if (!Parameters(s, ref i)) return false;
            if (cacheDirectives) read = CacheDirectives.Apply(read, key, item, hasItem, lastWins: true);
            SkipOws(s, ref i);
            if (i == s.Length)
            {
                if (cacheDirectives) directives = read;
                return true;
            }

            if (s[i] != ',') return false;
            i++;
            SkipOws(s, ref i);
            if (i == s.Length) return false; // a trailing comma
        }
    }

    private static bool IsInteger(ReadOnlySpan<char> item)
    {
        if (item.Length > 0 && item[0] == '-') item = item[1..];
        return item.Length > 0 && !item.ContainsAnyExceptInRange('0', '9');
    }

    private static void SkipOws(ReadOnlySpan<char> s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t') i++;
    }

    private static bool Key(ReadOnlySpan<char> s, ref int i)
    {
        if (i >= s.Length || !(char.IsAsciiLetterLower(s[i]) || s[i] == '*')) return false;
        i++;
        while (i < s.Length && (char.IsAsciiLetterLower(s[i]) || char.IsAsciiDigit(s[i]) || s[i] is '_' or '-' or '.' or '*')) i++;
        return true;
    }

    private static bool Parameters(ReadOnlySpan<char> s, ref int i)
    {
        while (i < s.Length && s[i] == ';')
        {
            i++;
            while (i < s.Length && s[i] == ' ') i++;
            if (!Key(s, ref i)) return false;
            if (i < s.Length && s[i] == '=')
            {
                i++;
                if (!BareItem(s, ref i)) return false;
            }
        }

        return true;
    }

    private static bool InnerList(ReadOnlySpan<char> s, ref int i)
    {
        i++; // '('
        while (i < s.Length)
        {
            while (i < s.Length && s[i] == ' ') i++;
            if (i < s.Length && s[i] == ')')
            {
                i++;
                return true;
            }

            if (!BareItem(s, ref i) || !Parameters(s, ref i)) return false;
            if (i < s.Length && s[i] is not (' ' or ')')) return false;
        }

        return false;
    }

    private static bool BareItem(ReadOnlySpan<char> s, ref int i)
    {
        if (i >= s.Length) return false;
        var c = s[i];
        if (c == '-' || char.IsAsciiDigit(c)) return Number(s, ref i);
        if (c == '"') return QuotedString(s, ref i);
        if (char.IsAsciiLetter(c) || c == '*') return Token(s, ref i);
        if (c == ':') return ByteSequence(s, ref i);
        if (c == '?')
        {
            if (i + 1 >= s.Length || s[i + 1] is not ('0' or '1')) return false;
            i += 2;
            return true;
        }

        return false;
    }

    private static bool Number(ReadOnlySpan<char> s, ref int i)
    {
        if (s[i] == '-') i++;
        var start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        var integerDigits = i - start;
        if (integerDigits == 0) return false;
        if (i < s.Length && s[i] == '.')
        {
            if (integerDigits > 12) return false;
            i++;
            var fraction = i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            return i - fraction is >= 1 and <= 3;
        }

        return integerDigits <= 15;
    }

    private static bool QuotedString(ReadOnlySpan<char> s, ref int i)
    {
        i++;
        while (i < s.Length)
        {
            var c = s[i++];
            if (c == '"') return true;
            if (c == '\\')
            {
                if (i >= s.Length || s[i] is not ('"' or '\\')) return false;
                i++;
            }
            else if (c < 0x20 || c > 0x7E)
            {
                return false;
            }
        }

        return false;
    }

    private static bool Token(ReadOnlySpan<char> s, ref int i)
    {
        i++;
        while (i < s.Length && (IsTchar(s[i]) || s[i] is ':' or '/')) i++;
        return true;
    }

    private static bool IsTchar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static bool ByteSequence(ReadOnlySpan<char> s, ref int i)
    {
        i++;
        while (i < s.Length)
        {
            var c = s[i++];
            if (c == ':') return true;
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=')) return false;
        }

        return false;
    }
}
