using System.Globalization;
using System.Numerics;
using System.Text;
using CsCheck;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Xunit.Abstractions;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

/// <summary>
/// Property tests (issue #7) for the parsers that read what clients and origins send: Cache-Control
/// (and CDN-Cache-Control), Range, Vary and the purge API body. Every input gives a result or a clear
/// rejection, never an exception, and the results keep the invariants the parsers document.
/// Inputs are both arbitrary text (all of UTF-16, control characters, long values) and near-valid
/// header grammar. Iterations are fixed so the whole class runs in a few seconds on two cores; a
/// failure prints the shrunk input and the seed to replay it with (<c>CsCheck_Seed=...</c>).
/// </summary>
public class ParserPropertyTests(ITestOutputHelper output)
{
    /// <summary>Iterations for the "never throws" properties over arbitrary input (about 0.1 to 0.5 s each).</summary>
    private const int FuzzIterations = 20_000;

    /// <summary>Iterations for the properties that compare with a model (about 0.02 to 0.6 s each).</summary>
    private const int ModelIterations = 5_000;

    private static readonly BigInteger LongMax = long.MaxValue;

    // ---------------------------------------------------------------- generators: any text

    private static readonly Gen<char> AnyChar = Gen.Char['\0', '\uffff'];

    /// <summary>Characters that matter to header grammar, weighted so that near-valid text is common.</summary>
    private static readonly Gen<char> HeaderishChar = Gen.Frequency(
        (6, Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"]),
        (4, Gen.Char[",=-;\"\\ \t*/.:"]),
        (1, Gen.Char['\0', '\u001f']),
        (1, AnyChar));

    /// <summary>Arbitrary strings: all of UTF-16 (lone surrogates too), ASCII with controls, header-ish text, and long values.</summary>
    private static readonly Gen<string> AnyString = Gen.Frequency(
        (4, AnyChar.Array[0, 40].Select(a => new string(a))),
        (3, Gen.Char['\0', '\u007f'].Array[0, 60].Select(a => new string(a))),
        (6, HeaderishChar.Array[0, 60].Select(a => new string(a))),
        (1, Long(HeaderishChar.Array[1, 64].Select(a => new string(a)))));

    /// <summary>A long value (1 KB to about 25 KB) made by repeating a generated chunk, cheaper than drawing every character.</summary>
    private static Gen<string> Long(Gen<string> chunk) =>
        from c in chunk
        from length in Gen.Int[1_000, 25_000]
        select string.Concat(Enumerable.Repeat(c, length / c.Length + 1))[..length];

    /// <summary>A field as it reaches a parser: absent, one line, or several lines (a null line too).</summary>
    private static Gen<StringValues> Lines(Gen<string> line) => Gen.Frequency(
        (1, Gen.Const(StringValues.Empty)),
        (6, line.Select(s => new StringValues(s))),
        (2, line.Array[2, 4].Select(a => new StringValues(a))),
        (1, line.Select(s => new StringValues([s, null!]))));

    private static readonly Gen<string> Ows = Gen.OneOf("", "", " ", "\t", "  ", " \t ");

    private static readonly Gen<string> Token = Gen.Char["!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"].Array[1, 12].Select(a => new string(a));

    /// <summary>A well-formed quoted-string: any of these characters, with quoted-pairs for '"' and '\\'.</summary>
    private static readonly Gen<string> ValidQuotedString =
        Gen.Char["abc ,=;\"\\\t\u00e9"].Array[0, 12].Select(body => "\"" + string.Concat(body.Select(c => c is '"' or '\\' ? "\\" + c : c.ToString())) + "\"");

    /// <summary>A quoted-string, sometimes left unterminated or ending in a lone backslash.</summary>
    private static readonly Gen<string> QuotedString = Gen.Frequency(
        (8, ValidQuotedString),
        (1, ValidQuotedString.Select(q => q[..^1])),
        (1, ValidQuotedString.Select(q => q[..^1] + "\\\"")));

    private static readonly Gen<string> Digits = Gen.Char['0', '9'].Array[1, 25].Select(a => new string(a));

    /// <summary>Things a number might be: small, large, past 2^31, 2^63 and 20 digits, signed, decimal, empty, non-ASCII digits.</summary>
    private static readonly Gen<string> NumberLike = Gen.Frequency(
        (4, Gen.Long[0, 100_000].Select(Invariant)),
        (2, Digits),
        (2, Gen.Long.Select(Invariant)),
        (2, Gen.OneOf(
            "0", "2147483647", "2147483648", "2147483649", "4294967296", "9223372036854775807",
            "9223372036854775808", "99999999999999999999", "-1", "-0", "+5", "1.5", "1e3", "0x10", "",
            " 5", "5 ", "00060", "\u0663", "\uff11", "6\u00a00")));

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(BigInteger value) => value.ToString(CultureInfo.InvariantCulture);

    // ---------------------------------------------------------------- generators: Cache-Control

    private static readonly string[] FlagNames =
        ["no-store", "no-cache", "private", "public", "must-revalidate", "proxy-revalidate", "only-if-cached", "no-transform", "immutable"];

    /// <summary>The delta-seconds directives, in the order <see cref="Deltas"/> reads them.</summary>
    private static readonly string[] DeltaNames =
        ["max-age", "s-maxage", "min-fresh", "max-stale", "stale-while-revalidate", "stale-if-error"];

    private const int MaxStaleIndex = 3;

    private static readonly Gen<string> KnownDirectiveName = Gen.OneOf([.. FlagNames, .. DeltaNames]).SelectMany(RandomCase);

    private static readonly Gen<string> Extension = Token.Where(t => !FlagNames.Contains(t, StringComparer.OrdinalIgnoreCase) && !DeltaNames.Contains(t, StringComparer.OrdinalIgnoreCase));

    private static readonly Gen<string> CacheControlItem = Gen.Frequency(
        (3, KnownDirectiveName),
        (4, from name in KnownDirectiveName from l in Ows from r in Ows from arg in Gen.OneOf(NumberLike, NumberLike.Select(n => "\"" + n + "\""), Token, QuotedString) select name + l + "=" + r + arg),
        (1, from name in Token from arg in Gen.OneOf(Token, QuotedString) select name + "=" + arg),
        (1, Gen.OneOf("", "=", "==", "\"", "max-age=\"", "\"max-age=5\"")));

    private static readonly Gen<string> NearValidCacheControl =
        from items in CacheControlItem.Array[0, 12]
        from seps in Gen.OneOf(",", ", ", " ,", ",,", " , ", ",\t", ";").Array[12]
        select string.Concat(items.Select((item, i) => i == 0 ? item : seps[i] + item));

    // ---------------------------------------------------------------- generators: Range

    private static readonly Gen<long> RepresentationLength = Gen.Frequency(
        (1, Gen.Const(0L)),
        (6, Gen.Long[1, 300]),
        (2, Gen.Long[0, long.MaxValue]),
        (1, Gen.OneOf(1L, 2147483648L, long.MaxValue - 1, long.MaxValue)));

    private static readonly Gen<string> RangePosition = Gen.Frequency(
        (6, Gen.Long[0, 320].Select(Invariant)),
        (2, Gen.Long[0, long.MaxValue].Select(Invariant)),
        (2, NumberLike));

    private static readonly Gen<string> RangeSpecText = Gen.Frequency(
        (4, from a in RangePosition from b in RangePosition select a + "-" + b),
        (2, RangePosition.Select(a => a + "-")),
        (2, RangePosition.Select(b => "-" + b)),
        (1, from a in RangePosition from l in Ows from r in Ows from b in RangePosition select a + l + "-" + r + b),
        (1, Gen.OneOf("-", "", "0", "--1", "1--", "0-1-2", "bytes=0-1", "=0-1")),
        (1, AnyString.Select(s => s.Length > 20 ? s[..20] : s)));

    private static readonly Gen<string> NearValidRange =
        from unit in Gen.Frequency((8, Gen.OneOf("bytes=", "BYTES=", "Bytes=", " bytes=")), (1, Gen.OneOf("bytes =", "bytes", "items=", "bytes=bytes=", "", "bytes=,")))
        from specs in Gen.Frequency((3, RangeSpecText.Array[0, 3]), (1, RangeSpecText.Array[0, 20]))
        from seps in Gen.OneOf(",", ", ", " ,", ",,", " , ", ",\t", ";").Array[20]
        select unit + string.Concat(specs.Select((spec, i) => i == 0 ? spec : seps[i] + spec));

    // ---------------------------------------------------------------- generators: Vary

    private static readonly string[] RequestHeaderNames =
        ["Accept-Encoding", "Accept-Language", "Accept", "Origin", "User-Agent", "X-Device", "Cookie", "X-A"];

    private static readonly Gen<string> RequestHeaderName = Gen.Frequency(
        (6, Gen.OneOf(RequestHeaderNames).SelectMany(RandomCase)),
        (2, Token),
        (1, AnyString.Select(s => s.Length > 20 ? s[..20] : s)));

    private static readonly Gen<string> AcceptEncodingItem =
        from coding in Gen.OneOf("gzip", "br", "zstd", "deflate", "identity", "*", "compress", "x-gzip").SelectMany(RandomCase)
        from weight in Gen.OneOf("", "", ";q=0", ";q=0.5", ";q=1", ";Q=0.000", ";q=", ";q=0.001")
        select coding + weight;

    private static readonly Gen<string> AcceptEncoding =
        from items in AcceptEncodingItem.Array[0, 8]
        select string.Join(", ", items);

    private static readonly Gen<string> RequestHeaderValue = Gen.Frequency(
        (3, Gen.OneOf("en", "en-US, fr;q=0.5", "", "  ", "a  b", "mobile", "text/html, */*")),
        (3, AcceptEncoding),
        (4, AnyString));

    private static readonly Gen<(string Name, string Value)[]> RequestHeaders =
        (from name in RequestHeaderName from value in RequestHeaderValue select (name, value)).Array[0, 8];

    private static readonly Gen<string> VaryItem = Gen.Frequency(
        (8, Gen.OneOf(RequestHeaderNames).SelectMany(RandomCase)),
        (1, Token),
        (1, Gen.Const("*")));

    private static readonly Gen<string> NearValidVary =
        from items in VaryItem.Array[0, 6]
        from seps in Gen.OneOf(",", ", ", " ,", ",,", " , ", ",\t").Array[6]
        select string.Concat(items.Select((item, i) => i == 0 ? item : seps[i] + item));

    // ---------------------------------------------------------------- generators: purge bodies

    private static readonly string[] PurgeFields = ["urls", "prefixes", "tags", "hosts", "all", "soft", "wait", "timeoutMs", "maxAge"];

    /// <summary>A JSON string literal: quotes, backslashes, controls and lone surrogates escaped, the rest as is.</summary>
    private static string JsonQuote(string s) =>
        "\"" + string.Concat(s.Select(c => c switch
        {
            '"' => "\\\"",
            '\\' => "\\\\",
            < ' ' or (>= '\ud800' and <= '\udfff') => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            _ => c.ToString(),
        })) + "\"";

    private static readonly Gen<string> JsonString = Gen.Frequency((6, HeaderishChar), (1, AnyChar)).Array[0, 20].Select(a => JsonQuote(new string(a)));

    private static readonly Gen<string> UrlLike = Gen.Frequency(
        (3, from scheme in Gen.OneOf("https://", "http://", "HTTPS://")
            from host in Gen.OneOf("example.com", "EXAMPLE.com", "other.test", "127.0.0.1", "[::1]:8080", "xn--r8jz45g.jp")
            from path in Token
            select scheme + host + "/" + path),
        (1, Gen.OneOf("https://", "ftp://example.com/", "/relative", "example.com/a", "https://exa mple.com/", "https://\u4f8b\u3048.jp/", "https://example.com:99999/", "")),
        (1, Gen.Const("https://example.com/" + new string('a', 4100))));

    private static readonly Gen<string> HostLike = Gen.Frequency(
        (3, Gen.OneOf("example.com", "EXAMPLE.com", "other.test")),
        (1, Gen.OneOf("", " ", "example.com:80", "https://example.com", "a..b", "[::1]", "127.0.0.1", "-bad-", "a/b", new string('a', 300))));

    private static readonly Gen<string> TagLike = Gen.Frequency(
        (4, Token),
        (1, Gen.OneOf("", "a b", "a,b", "tag\u0001", "\u00e9t\u00e9", new string('t', 300))));

    private static Gen<string> JsonArrayOf(Gen<string> item) =>
        item.Array[0, 4].Select(items => "[" + string.Join(",", items.Select(JsonQuote)) + "]");

    /// <summary>A member of the request with a value of the right type (the values may still be invalid).</summary>
    private static readonly Gen<string> TypedPurgeMember =
        from member in Gen.OneOf(
            JsonArrayOf(UrlLike).Select(v => ("urls", v)),
            JsonArrayOf(UrlLike).Select(v => ("prefixes", v)),
            JsonArrayOf(TagLike).Select(v => ("tags", v)),
            JsonArrayOf(HostLike).Select(v => ("hosts", v)),
            Gen.OneOf("true", "false").Select(v => ("all", v)),
            Gen.OneOf("true", "false", "null").Select(v => ("soft", v)),
            Gen.OneOf("true", "false").Select(v => ("wait", v)),
            Gen.Frequency((4, Gen.Int[-10, 120_000].Select(v => Invariant(v))), (1, Gen.OneOf("2147483648", "\"500\"", "1.5"))).Select(v => ("timeoutMs", v)),
            Gen.Frequency((4, Gen.Long[-10, 400_000_000].Select(Invariant)), (1, Gen.OneOf("9223372036854775808", "\"60\"", "1e3"))).Select(v => ("maxAge", v)))
        from name in RandomCase(member.Item1)
        select JsonQuote(name) + ":" + member.Item2;

    private static readonly Gen<string> JsonScalar = Gen.Frequency(
        (4, JsonString),
        (2, Gen.OneOf(
            "\"https://example.com/a\"", "\"http://[::1]/\"", "\"example.com\"", "\"EXAMPLE.com\"", "\"tag-1\"", "\"\"",
            "\"https://\"", "\"ftp://example.com/\"", "\"\\ud800\"", "\"\\u0000\"", "\"12\"")),
        (3, NumberLike.Where(n => n.Length > 0 && !n.Contains(' ', StringComparison.Ordinal)).Select(n => n.Trim())),
        (2, Gen.OneOf("true", "false", "null", "1e400", "-1e400", "0.5", "-0", "[]", "{}", "1E3")));

    private static readonly Gen<string> JsonValue = Gen.Frequency(
        (3, JsonScalar),
        (3, JsonScalar.Array[0, 5].Select(a => "[" + string.Join(",", a) + "]")),
        (1, JsonScalar.Array[0, 3].Select(a => "[[" + string.Join(",", a) + "]]")),
        (1, from name in Gen.OneOf(PurgeFields) from v in JsonScalar select "{\"" + name + "\":" + v + "}"));

    private static readonly Gen<string> JsonMember =
        from name in Gen.Frequency((8, Gen.OneOf(PurgeFields).SelectMany(RandomCase)), (1, Token), (1, JsonString.Select(s => s[1..^1])))
        from ws in Ows
        from value in JsonValue
        select "\"" + name + "\"" + ws + ":" + ws + value;

    private static readonly Gen<string> NearValidPurgeJson = Gen.Frequency(
        (6, TypedPurgeMember.Array[1, 4].Select(m => "{" + string.Join(",", m) + "}")),
        (4, Gen.Frequency((3, TypedPurgeMember), (1, JsonMember)).Array[0, 6].Select(m => "{" + string.Join(",", m) + "}")),
        (1, Gen.Int[1, 80].Select(depth => new string('[', depth) + new string(']', depth))),
        (1, Gen.Int[1, 12].Select(depth => "{\"urls\":" + new string('[', depth) + new string(']', depth) + "}")),
        (1, Gen.OneOf("null", "[]", "\"x\"", "0", "{", "}", "{}", "{\"urls\":[\"a\"],}", "\ufeff{}", "{\"all\":true}{}")));

    /// <summary>Near-valid JSON, then sometimes damaged: truncated, or a byte replaced or inserted (invalid UTF-8 too).</summary>
    private static readonly Gen<byte[]> PurgeBody = Gen.Frequency(
        (8, NearValidPurgeJson.Select(Encoding.UTF8.GetBytes)),
        (2, from json in NearValidPurgeJson
            from cut in Gen.Double[0, 1]
            select Encoding.UTF8.GetBytes(json)[..(int)(Encoding.UTF8.GetByteCount(json) * cut)]),
        (2, from json in NearValidPurgeJson
            from at in Gen.Double[0, 1]
            from b in Gen.OneOf<byte>(0xff, 0xc0, 0x80, 0xed, 0x00, 0x22, 0x5c, 0x7b)
            from replace in Gen.Bool
            select Damage(Encoding.UTF8.GetBytes(json), at, b, replace)),
        (1, Gen.Byte.Array[0, 200]),
        (1, from chunk in Gen.Byte.Array[1, 64] from length in Gen.Int[1_000, 50_000] select Repeat(chunk, length)),
        (1, AnyString.Select(Encoding.UTF8.GetBytes)));

    private static byte[] Repeat(byte[] chunk, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i += chunk.Length) chunk.AsSpan(0, Math.Min(chunk.Length, length - i)).CopyTo(bytes.AsSpan(i));
        return bytes;
    }

    private static byte[] Damage(byte[] bytes, double at, byte b, bool replace)
    {
        var i = (int)(bytes.Length * at);
        if (replace && i < bytes.Length)
        {
            bytes[i] = b;
            return bytes;
        }

        return [.. bytes[..i], b, .. bytes[i..]];
    }

    // ---------------------------------------------------------------- shared helpers

    /// <summary>The same text with its ASCII letters in a random case (non-ASCII letters are left alone).</summary>
    private static Gen<string> RandomCase(string s) => Gen.ULong.Select(mask => FlipCase(s, mask));

    private static string FlipCase(string s, ulong mask)
    {
        var chars = s.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (((mask >> (i % 64)) & 1) == 0 || !char.IsAsciiLetter(chars[i])) continue;
            chars[i] = char.IsAsciiLetterUpper(chars[i]) ? char.ToLowerInvariant(chars[i]) : char.ToUpperInvariant(chars[i]);
        }

        return new string(chars);
    }

    /// <summary>A C#-style literal, so control characters, lone surrogates and trailing spaces show in a failure.</summary>
    private static string Show(string? s)
    {
        if (s is null) return "null";
        var b = new StringBuilder(s.Length + 16).Append('"');
        foreach (var c in s)
        {
            if (c == '"') b.Append("\\\"");
            else if (c == '\\') b.Append("\\\\");
            else if (c is < ' ' or > '~') b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else b.Append(c);
        }

        return b.Append('"').ToString();
    }

    private static string Show(StringValues values) =>
        values.Count switch
        {
            0 => "(absent)",
            1 => Show(values[0]),
            _ => "[" + string.Join(", ", values.Select(v => Show(v))) + "]",
        };

    private static string Show((string Name, string Value)[] headers) =>
        "{" + string.Join(", ", headers.Select(h => Show(h.Name) + ": " + Show(h.Value))) + "}";

    private static string Show(byte[] bytes) =>
        bytes.Length + " bytes: " + Convert.ToHexString(bytes) + " (as UTF-8: " + Show(Encoding.UTF8.GetString(bytes)) + ")";

    private static long?[] Deltas(CacheDirectives d) =>
        [d.MaxAge, d.SharedMaxAge, d.MinFresh, d.MaxStale, d.StaleWhileRevalidate, d.StaleIfError];

    private static bool[] Flags(CacheDirectives d) =>
        [d.NoStore, d.NoCache, d.Private, d.Public, d.MustRevalidate, d.ProxyRevalidate, d.OnlyIfCached, d.NoTransform, d.Immutable];

    private static CacheDirectives Directives(bool present, bool[] flags, long?[] deltas) => new()
    {
        Present = present,
        NoStore = flags[0],
        NoCache = flags[1],
        Private = flags[2],
        Public = flags[3],
        MustRevalidate = flags[4],
        ProxyRevalidate = flags[5],
        OnlyIfCached = flags[6],
        NoTransform = flags[7],
        Immutable = flags[8],
        MaxAge = deltas[0],
        SharedMaxAge = deltas[1],
        MinFresh = deltas[2],
        MaxStale = deltas[3],
        StaleWhileRevalidate = deltas[4],
        StaleIfError = deltas[5],
    };

    /// <summary>
    /// The model of a delta-seconds argument (RFC 9111 §1.2.2, §5.2): an unquoted or quoted run of
    /// ASCII digits, capped at 2^31; anything else, or no argument, is invalid (-1, read as stale).
    /// </summary>
    private static long ExpectedDelta(string? argument)
    {
        if (argument is null) return -1;
        if (argument.Length >= 2 && argument[0] == '"' && argument[^1] == '"') argument = argument[1..^1];
        if (argument.Length == 0 || !argument.All(char.IsAsciiDigit)) return -1;
        return (long)BigInteger.Min(BigInteger.Parse(argument, CultureInfo.InvariantCulture), CacheDirectives.MaxDeltaSeconds);
    }

    // ================================================================ Cache-Control

    [Fact]
    public void CacheControl_any_input_parses_without_throwing_and_delta_seconds_are_invalid_or_in_range()
    {
        Lines(Gen.Frequency((1, AnyString), (2, NearValidCacheControl))).Sample(field =>
        {
            var d = CacheDirectives.Parse(field);

            Assert.Equal(!StringValues.IsNullOrEmpty(field), d.Present);
            if (!d.Present) Assert.Equal(new CacheDirectives(), d);
            var deltas = Deltas(d);
            for (var i = 0; i < deltas.Length; i++)
            {
                // null = absent; -1 = present but invalid; else 0..2^31 (§1.2.2); max-stale alone = any staleness.
                if (deltas[i] is not { } v || v == -1 || (i == MaxStaleIndex && v == long.MaxValue)) continue;
                Assert.InRange(v, 0, CacheDirectives.MaxDeltaSeconds);
            }
        }, writeLine: output.WriteLine, iter: FuzzIterations, print: Show);
    }

    [Fact]
    public void CacheControl_delta_seconds_of_any_size_read_exactly_and_past_2_pow_31_as_2_pow_31_per_rfc9111_1_2_2()
    {
        var gen =
            from index in Gen.Int[0, DeltaNames.Length - 1]
            from zeros in Gen.Int[0, 30]
            from digits in Gen.Frequency((1, Digits), (1, Gen.Char['0', '9'].Array[10, 60].Select(a => new string(a))))
            from quoted in Gen.Bool
            from name in RandomCase(DeltaNames[index])
            select (index, name + "=" + (quoted ? "\"" : "") + new string('0', zeros) + digits + (quoted ? "\"" : ""));

        gen.Sample((index, field) =>
        {
            var digits = field[(field.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim('"');
            var expected = (long)BigInteger.Min(BigInteger.Parse(digits, CultureInfo.InvariantCulture), CacheDirectives.MaxDeltaSeconds);

            Assert.Equal(expected, Deltas(CacheDirectives.Parse(field))[index]);
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item2));
    }

    /// <summary>A valid directive list in any order, case, spacing, quoting and line split, with unknown extensions.</summary>
    private static readonly Gen<(StringValues Field, CacheDirectives Expected)> ValidCacheControl =
        from flags in Gen.Bool.Array[FlagNames.Length]
        from values in Gen.Frequency(
            (3, Gen.Const((string?)null)),
            (4, Gen.Long[0, 1_000_000].Select(v => (string?)Invariant(v))),
            (1, Gen.Char['0', '9'].Array[10, 30].Select(a => (string?)new string(a))),
            (1, Gen.OneOf<string?>("0", "2147483647", "2147483648", "2147483649", "99999999999999999999", "bare"))).Array[DeltaNames.Length]
        from quote in Gen.Bool.Array[DeltaNames.Length]
        from extensions in Gen.OneOf(Extension, from e in Extension from v in Gen.OneOf(Token, ValidQuotedString) select e + "=" + v).Array[0, 3]
        from order in Gen.Int.Array[FlagNames.Length + DeltaNames.Length + 3]
        from seps in Gen.OneOf(",", ", ", " ,", " , ", ",\t", "\t,  ").Array[FlagNames.Length + DeltaNames.Length + 3]
        from split in Gen.Int[0, 3]
        select BuildCacheControl(flags, values, quote, extensions, order, seps, split);

    private static (StringValues, CacheDirectives) BuildCacheControl(bool[] flags, string?[] values, bool[] quote, string[] extensions, int[] order, string[] seps, int split)
    {
        var items = new List<string>();
        var deltas = new long?[DeltaNames.Length];
        for (var i = 0; i < FlagNames.Length; i++)
        {
            if (flags[i]) items.Add(FlipCase(FlagNames[i], (ulong)order[i]));
        }

        for (var i = 0; i < DeltaNames.Length; i++)
        {
            var name = FlipCase(DeltaNames[i], (ulong)order[FlagNames.Length + i]);
            if (values[i] is null) continue;
            if (values[i] == "bare")
            {
                // max-stale alone means any staleness; every other delta directive needs its argument.
                items.Add(name);
                deltas[i] = i == MaxStaleIndex ? long.MaxValue : -1;
                continue;
            }

            items.Add(name + "=" + (quote[i] ? "\"" + values[i] + "\"" : values[i]));
            deltas[i] = ExpectedDelta(values[i]);
        }

        items.AddRange(extensions);
        var shuffled = items.Select((item, i) => (item, key: order[i])).OrderBy(x => x.key).Select(x => x.item).ToList();

        // Several field lines are one list (RFC 9110 §5.3): with split > 0, start a new line every split + 1 items.
        var lines = new List<string>();
        var line = new StringBuilder();
        for (var i = 0; i < shuffled.Count; i++)
        {
            if (line.Length > 0 && i % (split + 1) == 0 && split > 0)
            {
                lines.Add(line.ToString());
                line.Clear();
            }

            line.Append(line.Length == 0 ? "" : seps[i]).Append(shuffled[i]);
        }

        if (line.Length > 0) lines.Add(line.ToString());
        var field = lines.Count switch { 0 => StringValues.Empty, 1 => new StringValues(lines[0]), _ => new StringValues([.. lines]) };
        return (field, Directives(!StringValues.IsNullOrEmpty(field), flags, deltas));
    }

    [Fact]
    public void CacheControl_a_valid_directive_list_parses_back_to_its_model()
    {
        ValidCacheControl.Sample((field, expected) =>
        {
            Assert.Equal(expected, CacheDirectives.Parse(field));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item1) + " expected " + t.Item2);
    }

    [Fact]
    public void CacheControl_repeated_directives_first_occurrence_wins_per_rfc9111_4_2_1()
    {
        var gen =
            from index in Gen.Int[0, DeltaNames.Length - 1]
            from args in Gen.Frequency(
                (4, Gen.Long[0, 100_000].Select(v => (string?)Invariant(v))),
                (1, Gen.OneOf<string?>(null, "", "-1", "abc", "1.5", "+5", "99999999999999999999", "\"30\""))).Array[2, 4]
            from flag in Gen.Int[0, FlagNames.Length - 1]
            from flagCopies in Gen.Int[1, 3]
            from order in Gen.Int.Array[8]
            from names in RandomCase(DeltaNames[index]).Array[4]
            select (index, flag, string.Join(", ", args.Select((a, i) => (text: a is null ? names[i] : names[i] + "=" + a, key: order[i]))
                .Concat(Enumerable.Range(0, flagCopies).Select(i => (text: FlagNames[flag], key: order[4 + i])))
                .OrderBy(x => x.key).Select(x => x.text)));

        gen.Sample((index, flag, field) =>
        {
            var d = CacheDirectives.Parse(field);

            // The model: the argument of the first occurrence of the directive, whatever follows.
            var name = DeltaNames[index] + "=";
            var first = field.Split(", ").First(item => item.StartsWith(DeltaNames[index], StringComparison.OrdinalIgnoreCase) && (item.Length == DeltaNames[index].Length || item[DeltaNames[index].Length] == '='));
            var argument = first.Length == DeltaNames[index].Length ? null : first[name.Length..];
            var expected = argument is null && index == MaxStaleIndex ? long.MaxValue : ExpectedDelta(argument);
            Assert.Equal(expected, Deltas(d)[index]);
            Assert.True(Flags(d)[flag]);
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item3));
    }

    // ================================================================ Range

    private static (RangeOutcome Outcome, long Start, long Count) Evaluate(StringValues range, long length)
    {
        var outcome = ByteRange.Evaluate(range, length, out var start, out var count);
        return (outcome, start, count);
    }

    [Fact]
    public void Range_any_field_and_length_gives_full_or_a_range_inside_the_body()
    {
        var gen = Gen.Select(Lines(Gen.Frequency((1, AnyString), (3, NearValidRange))), RepresentationLength);

        gen.Sample((range, length) =>
        {
            var (outcome, start, count) = Evaluate(range, length);

            switch (outcome)
            {
                case RangeOutcome.Full:
                    Assert.Equal((0L, length), (start, count));
                    break;
                case RangeOutcome.Partial:
                    // Inside [0, length - 1], start <= end, never more bytes than the body (no amplification).
                    Assert.InRange(count, 1, length);
                    Assert.InRange(start, 0, length - count);
                    break;
                case RangeOutcome.Unsatisfiable:
                    Assert.True(range.Count == 1 && range[0]!.AsSpan().Trim().StartsWith("bytes=", StringComparison.OrdinalIgnoreCase), "416 only answers a bytes range");
                    break;
                default:
                    Assert.Fail($"Unknown outcome {outcome}");
                    break;
            }
        }, writeLine: output.WriteLine, iter: FuzzIterations, print: t => Show(t.Item1) + " length " + t.Item2);
    }

    private enum SpecKind { Closed, Open, Suffix }

    /// <summary>One range-spec of the model; positions may exceed 63 bits.</summary>
    private readonly record struct Spec(SpecKind Kind, BigInteger First, BigInteger Last, int Zeros)
    {
        public override string ToString()
        {
            var pad = new string('0', Zeros);
            return Kind switch
            {
                SpecKind.Closed => pad + Invariant(First) + "-" + pad + Invariant(Last),
                SpecKind.Open => pad + Invariant(First) + "-",
                _ => "-" + pad + Invariant(Last),
            };
        }

        /// <summary>True when a position it sends does not fit in 63 bits.</summary>
        public bool Overflows => Kind switch
        {
            SpecKind.Suffix => Last > LongMax,
            SpecKind.Open => First > LongMax,
            _ => First > LongMax || Last > LongMax,
        };

        /// <summary>The bytes it selects of a body of <paramref name="length"/> bytes; null when unsatisfiable (§14.1.1).</summary>
        public (BigInteger Start, BigInteger End)? Selected(BigInteger length) => Kind switch
        {
            SpecKind.Suffix => Last > 0 && length > 0 ? (BigInteger.Max(0, length - Last), length - 1) : null,
            SpecKind.Open => First < length ? (First, length - 1) : null,
            _ => First < length ? (First, BigInteger.Min(Last, length - 1)) : null,
        };
    }

    private static Gen<BigInteger> Position(long length) => Gen.Frequency(
        (8, Gen.Long[0, length > long.MaxValue - 8 ? long.MaxValue : length + 8].Select(v => (BigInteger)v)),
        (1, Gen.Long[0, long.MaxValue].Select(v => (BigInteger)v)),
        (1, Gen.OneOf(LongMax, LongMax + 1, BigInteger.Parse("99999999999999999999", CultureInfo.InvariantCulture))));

    private static Gen<Spec> SpecFor(long length) =>
        from kind in Gen.Frequency((4, Gen.Const(SpecKind.Closed)), (2, Gen.Const(SpecKind.Open)), (2, Gen.Const(SpecKind.Suffix)))
        from a in Position(length)
        from b in Position(length)
        from zeros in Gen.Frequency((6, Gen.Const(0)), (1, Gen.Int[1, 25]))
        from reversed in Gen.Frequency((9, Gen.Const(false)), (1, Gen.Const(true)))
        select reversed || kind != SpecKind.Closed ? new Spec(kind, a, b, zeros) : new Spec(kind, BigInteger.Min(a, b), BigInteger.Max(a, b), zeros);

    private static readonly Gen<(long Length, Spec[] Specs, string[] Seps)> RangeModel =
        from length in Gen.Frequency((6, Gen.Long[0, 64]), (1, RepresentationLength))
        from specs in Gen.Frequency((3, SpecFor(length).Array[1, 4]), (1, SpecFor(length).Array[1, ByteRange.MaxRanges + 2]))
        from seps in Gen.OneOf(",", ", ", " ,", " , ", ",\t").Array[ByteRange.MaxRanges + 2]
        select (length, specs, seps);

    private static string RangeField(IEnumerable<Spec> specs, string[] seps) =>
        "bytes=" + string.Concat(specs.Select((s, i) => (i == 0 ? "" : seps[i]) + s));

    /// <summary>The specs by the first byte they select, unsatisfiable ones last, order otherwise kept.</summary>
    private static Spec[] ByStart(Spec[] specs, long length) =>
        [.. specs.OrderBy(s => s.Selected(length) is { } r ? r.Start : LongMax + 1)];

    /// <summary>
    /// The model (RFC 9110 §14.1.2, §14.2, and what ByteRange documents): more than
    /// <see cref="ByteRange.MaxRanges"/> ranges, an invalid range-spec (last before first) or a position
    /// past 63 bits (ByteRangeTests pins this as malformed) send the full body; no satisfiable range is a
    /// 416; ranges whose union is one run are coalesced into it; a union with gaps sends the full body.
    /// </summary>
    private static (RangeOutcome Outcome, long Start, long Count) ExpectedRange(Spec[] specs, long length)
    {
        var full = (RangeOutcome.Full, 0L, length);
        if (specs.Length > ByteRange.MaxRanges) return full;
        if (specs.Any(s => s.Overflows || (s.Kind == SpecKind.Closed && s.Last < s.First))) return full;
        var selected = specs.Select(s => s.Selected(length)).OfType<(BigInteger Start, BigInteger End)>().OrderBy(r => r.Start).ToList();
        if (selected.Count == 0) return (RangeOutcome.Unsatisfiable, 0, length);
        var (lo, hi) = selected[0];
        foreach (var (s, e) in selected.Skip(1))
        {
            if (s > hi + 1) return full;
            hi = BigInteger.Max(hi, e);
        }

        return (RangeOutcome.Partial, (long)lo, (long)(hi - lo + 1));
    }

    [Fact]
    public void Range_ranges_in_ascending_order_give_the_modelled_outcome()
    {
        RangeModel.Sample((length, specs, seps) =>
        {
            var sorted = ByStart(specs, length);
            var expected = ExpectedRange(sorted, length);
            var actual = Evaluate(RangeField(sorted, seps), length);

            if (expected.Outcome == RangeOutcome.Unsatisfiable) Assert.Equal(expected.Outcome, actual.Outcome);
            else Assert.Equal(expected, actual);
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(RangeField(ByStart(t.Item2, t.Item1), t.Item3)) + " length " + t.Item1);
    }

    [Fact]
    public void Range_outcome_does_not_depend_on_the_order_of_the_ranges()
    {
        // ByteRange documents "multiple ranges are coalesced when they overlap or touch into one";
        // a range set is a set (RFC 9110 §14.1.2), so the outcome is the same in any order.
        RangeModel.Sample((length, specs, seps) =>
        {
            var asSent = Evaluate(RangeField(specs, seps), length);
            var ascending = Evaluate(RangeField(ByStart(specs, length), seps), length);

            Assert.Equal(ascending, asSent);
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(RangeField(t.Item2, t.Item3)) + " length " + t.Item1
            + " gives " + Evaluate(RangeField(t.Item2, t.Item3), t.Item1) + "; in ascending order " + Show(RangeField(ByStart(t.Item2, t.Item1), t.Item3))
            + " gives " + Evaluate(RangeField(ByStart(t.Item2, t.Item1), t.Item3), t.Item1));
    }

    [Fact]
    public void Range_suffix_longer_than_the_body_selects_all_of_it_per_rfc9110_14_1_3()
    {
        var gen =
            from length in Gen.Frequency((4, Gen.Long[1, 1_000]), (1, Gen.Long[1, long.MaxValue]))
            from suffix in Gen.Frequency(
                (4, Gen.Long[0, 1_000].Select(extra => (BigInteger)length + extra)),
                (1, Gen.Long[length, long.MaxValue].Select(v => (BigInteger)v)),
                (1, Gen.OneOf(LongMax + 1, BigInteger.Parse("99999999999999999999", CultureInfo.InvariantCulture))))
            from others in Gen.Int[0, 2]
            select (length, suffix, others);

        gen.Sample((length, suffix, others) =>
        {
            // The suffix alone, or beside ranges it covers ("0-0", "-1"): all of it either way.
            var field = "bytes=-" + Invariant(suffix) + (others > 0 ? ", 0-0" : "") + (others > 1 ? ", -1" : "");
            var actual = Evaluate(field, length);

            if (suffix > LongMax)
            {
                // Past 63 bits the position is malformed (see ExpectedRange), which also sends all of it.
                Assert.Equal((0L, length), (actual.Start, actual.Count));
            }
            else
            {
                Assert.Equal((RangeOutcome.Partial, 0L, length), actual);
            }
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => $"bytes=-{t.Item2} (+{t.Item3} covered ranges) length {t.Item1}");
    }

    /// <summary>Range-specs none of whose bytes exist in a body of <paramref name="length"/> bytes (RFC 9110 §14.1.1).</summary>
    private static Gen<string> SpecsFrom(long length) => Gen.Frequency(
        (3, Gen.Long[length, long.MaxValue].Select(first => Invariant(first) + "-")),
        (3, from first in Gen.Long[length, long.MaxValue]
            from extra in Gen.Long[0, 1_000]
            select Invariant(first) + "-" + Invariant(first > long.MaxValue - extra ? long.MaxValue : first + extra)),
        (1, Gen.OneOf("-0", "-00")));

    /// <summary>An empty body has no satisfiable range of any form (§14.1.1).</summary>
    private static readonly Gen<string> AnySpecOfAnEmptyBody = Gen.Frequency(
        (1, SpecsFrom(0)),
        (1, Gen.OneOf("0-", "0-0", "-1", "-9223372036854775807", "5-10")));

    [Fact]
    public void Range_with_no_satisfiable_range_is_416_per_rfc9110_14_1_1()
    {
        var unsatisfiable =
            from length in Gen.Frequency((1, Gen.Const(0L)), (4, Gen.Long[1, 1_000]), (1, Gen.Long[0, long.MaxValue]))
            from specs in (length == 0 ? AnySpecOfAnEmptyBody : SpecsFrom(length)).Array[1, ByteRange.MaxRanges]
            select (length, field: "bytes=" + string.Join(", ", specs));

        unsatisfiable.Sample((length, field) =>
        {
            Assert.Equal(RangeOutcome.Unsatisfiable, Evaluate(field, length).Outcome);
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item2) + " length " + t.Item1);
    }

    // ================================================================ Vary

    [Fact]
    public void Vary_any_field_and_request_headers_are_read_without_throwing()
    {
        var gen = Gen.Select(Lines(Gen.Frequency((1, AnyString), (2, NearValidVary))), RequestHeaders, AnyString);

        gen.Sample((vary, request, anyName) =>
        {
            var names = Vary.ParseNames(vary);

            // Names are the trimmed, lower-cased, distinct, non-empty list members.
            Assert.All(names, n => Assert.True(n.Length > 0 && string.Equals(n, n.Trim(), StringComparison.Ordinal) && string.Equals(n, n.ToLowerInvariant(), StringComparison.Ordinal) && !n.Contains(',', StringComparison.Ordinal), Show(n)));
            Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());

            var headers = Headers(request);
            var values = Vary.SelectValues(names, headers);
            Assert.Equal(names.Length, values.Length);
            Assert.All(values, Assert.NotNull);

            _ = Vary.Normalize(anyName, headers[anyName]);
            _ = Vary.Normalize(anyName.ToLowerInvariant(), vary);
            var ae = Vary.NormalizeAcceptEncoding(vary);
            Assert.True(ae == "identity" || ae.Split(',').All(c => c is "br" or "gzip" or "zstd" or "deflate"), Show(ae));
        }, writeLine: output.WriteLine, iter: FuzzIterations, print: t => "Vary " + Show(t.Item1) + " request " + Show(t.Item2) + " name " + Show(t.Item3));
    }

    [Fact]
    public void Vary_the_secondary_key_is_deterministic_and_a_stored_variant_matches_its_own_request()
    {
        var gen = Gen.Select(NearValidVary, RequestHeaders);

        gen.Sample((vary, request) =>
        {
            var stored = Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("Vary", vary)), Headers(request));

            // Same inputs, the same key: again, from a new dictionary, and from the fields in another order.
            Assert.Equal(stored.VaryValues, Vary.SelectValues(stored.VaryNames, Headers(request)));
            Assert.Equal(stored.VaryValues, Vary.SelectValues(Vary.ParseNames(vary), Headers(ReorderKeepingLines(request))));
            Assert.Equal(!stored.VaryNames.Contains("*"), Vary.Matches(stored, Headers(request)));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => "Vary " + Show(t.Item1) + " request " + Show(t.Item2));
    }

    /// <summary>The fields in reverse order, keeping the order of the lines of each field (that order is significant).</summary>
    private static (string Name, string Value)[] ReorderKeepingLines((string Name, string Value)[] fields) =>
        [.. fields.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase).Reverse().SelectMany(g => g)];

    [Fact]
    public void Vary_header_names_match_case_insensitively()
    {
        var gen = Gen.Select(NearValidVary, RequestHeaders, Gen.ULong, Gen.ULong);

        gen.Sample((vary, request, varyMask, requestMask) =>
        {
            var stored = Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("Vary", vary)), Headers(request));
            var recased = request.Select((f, i) => (FlipCase(f.Name, requestMask >> (i % 8)), f.Value)).ToArray();

            Assert.Equal(stored.VaryNames, Vary.ParseNames(FlipCase(vary, varyMask)));
            Assert.Equal(stored.VaryValues, Vary.SelectValues(Vary.ParseNames(FlipCase(vary, varyMask)), Headers(recased)));
            Assert.Equal(!stored.VaryNames.Contains("*"), Vary.Matches(stored, Headers(recased)));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => "Vary " + Show(t.Item1) + " request " + Show(t.Item2) + $" masks {t.Item3:x}/{t.Item4:x}");
    }

    [Fact]
    public void Vary_star_never_matches_and_is_not_stored_per_rfc9111_4_1()
    {
        var gen =
            from before in NearValidVary
            from after in NearValidVary
            from star in Gen.OneOf("*", " * ", "*\t")
            from request in RequestHeaders
            from lines in Gen.Bool
            select (lines ? new StringValues([before, star, after]) : new StringValues(before + "," + star + "," + after), request);

        gen.Sample((vary, request) =>
        {
            var response = Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"));
            response[HeaderNames.Vary] = vary;
            var stored = Stored(response, Headers(request));

            Assert.Contains("*", stored.VaryNames);
            Assert.False(Vary.Matches(stored, Headers(request)));
            Assert.False(Vary.Matches(stored, Headers()));
            Assert.Equal(StoreDecision.VaryStar, StoragePolicy.Evaluate("GET", Headers(), 200, response, HostCachePolicy.Default));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => "Vary " + Show(t.Item1) + " request " + Show(t.Item2));
    }

    [Fact]
    public void Vary_absent_field_never_shares_a_key_with_a_present_one()
    {
        // NUL cannot occur in a field value (RFC 9110 §5.5); Vary documents that it marks an absent field.
        var gen = Gen.Select(Lines(AnyString.Where(s => !s.Contains('\0', StringComparison.Ordinal))), Token);

        gen.Sample((value, name) =>
        {
            var lower = name.ToLowerInvariant();
            if (value.Count == 0 || lower == "accept-encoding") return;

            Assert.NotEqual(Vary.Normalize(lower, StringValues.Empty), Vary.Normalize(lower, value));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item1) + " for " + Show(t.Item2));
    }

    [Fact]
    public void Vary_runs_of_whitespace_between_words_fold_to_one_key()
    {
        // Vary.Normalize documents "runs of whitespace folded"; in a field value a run is OWS/RWS,
        // any mix of SP and HTAB (RFC 9110 §5.6.3), so every such spelling selects one variant.
        var gen =
            from words in Token.Array[1, 5]
            from runs in Gen.Char[" \t"].Array[1, 4].Select(a => new string(a)).Array[6]
            select (words, runs);

        gen.Sample((words, runs) =>
        {
            var spaced = string.Join(" ", words);
            var folded = runs[0] + string.Concat(words.Select((w, i) => (i == 0 ? "" : runs[i]) + w)) + runs[5];

            Assert.Equal(Vary.Normalize("x-variant", spaced), Vary.Normalize("x-variant", folded));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item2[0] + string.Concat(t.Item1.Select((w, i) => (i == 0 ? "" : t.Item2[i]) + w)) + t.Item2[5]));
    }

    [Fact]
    public void Vary_accept_encoding_key_ignores_order_case_and_spacing()
    {
        var gen =
            from items in AcceptEncodingItem.Array[0, 8]
            from order in Gen.Int.Array[8]
            from mask in Gen.ULong
            from seps in Gen.OneOf(",", ", ", " , ", ",\t").Array[8]
            select (items, order, mask, seps);

        gen.Sample((items, order, mask, seps) =>
        {
            var plain = string.Join(",", items);
            var shuffled = items.Select((item, i) => (item, key: order[i])).OrderBy(x => x.key).Select(x => x.item).ToArray();
            var respelled = string.Concat(shuffled.Select((item, i) => (i == 0 ? "" : seps[i]) + FlipCase(item, mask >> i)));

            Assert.Equal(Vary.NormalizeAcceptEncoding(plain), Vary.NormalizeAcceptEncoding(respelled));
            Assert.Equal(Vary.Normalize("accept-encoding", plain), Vary.Normalize("accept-encoding", new StringValues(shuffled)));
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(string.Join(",", t.Item1)));
    }

    // ================================================================ purge API body

    [Fact]
    public void Purge_any_body_gives_a_request_or_a_4xx_problem_with_a_title()
    {
        PurgeBody.Sample(body =>
        {
            var (request, problem) = PurgeRequestParser.Parse(body);

            Assert.True((request is null) != (problem is null), "exactly one of request and problem");
            if (problem is not null)
            {
                Assert.InRange(problem.Status, 400, 499);
                Assert.False(string.IsNullOrWhiteSpace(problem.Title));
                Assert.False(string.IsNullOrWhiteSpace(problem.Detail));
            }
        }, writeLine: output.WriteLine, iter: FuzzIterations, print: Show);
    }

    [Fact]
    public void Purge_a_parsed_body_validates_to_an_event_or_a_4xx_problem()
    {
        var gen = Gen.Select(PurgeBody, Gen.Bool, Gen.Bool);

        gen.Sample((body, ttl, hostScoped) =>
        {
            if (PurgeRequestParser.Parse(body).Request is not { } request) return;
            var key = new ApiKey("k1", hostScoped ? new HashSet<string>(["example.com"], StringComparer.Ordinal) : null);

            var (evt, problem) = PurgeRequestParser.Validate(request, ttl ? InvalidationKind.Ttl : InvalidationKind.Purge, key, new PurgeApiOptions(), "id-1", T0);

            Assert.True((evt is null) != (problem is null), "exactly one of event and problem");
            if (problem is not null)
            {
                Assert.InRange(problem.Status, 400, 499);
                Assert.False(string.IsNullOrWhiteSpace(problem.Title));
            }
        }, writeLine: output.WriteLine, iter: ModelIterations, print: t => Show(t.Item1) + (t.Item2 ? " /ttl" : " /purge") + (t.Item3 ? " scoped key" : ""));
    }
}
