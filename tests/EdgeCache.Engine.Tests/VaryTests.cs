using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

public class VaryTests
{
    private static CachedResponse StoredFor(string vary, HeaderDictionary request) =>
        Stored(Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"), ("Vary", vary)), request);

    [Fact]
    public void Rfc9111_4_1_ParseNames_lower_cases_trims_and_removes_duplicates()
    {
        Assert.Equal(["accept-encoding", "accept-language", "x-device"], Vary.ParseNames(new StringValues(["Accept-Encoding,  Accept-Language", "accept-encoding, ,X-Device"])));
    }

    [Fact]
    public void Rfc9111_4_1_ParseNames_keeps_star_and_returns_empty_for_absent()
    {
        Assert.Equal(["accept-encoding", "*"], Vary.ParseNames("Accept-Encoding, *"));
        Assert.Empty(Vary.ParseNames(StringValues.Empty));
        Assert.Empty(Vary.ParseNames(""));
    }

    [Fact]
    public void Rfc9111_4_1_No_Vary_matches_any_request()
    {
        var stored = Stored(Headers(("Date", Http(T0))), Headers(("Accept-Language", "en")));

        Assert.True(Vary.Matches(stored, Headers()));
        Assert.True(Vary.Matches(stored, Headers(("Accept-Language", "fr"))));
    }

    [Fact]
    public void Rfc9111_4_1_Exact_value_matches_and_a_different_value_does_not()
    {
        var stored = StoredFor("Accept-Language", Headers(("Accept-Language", "en-US")));

        Assert.True(Vary.Matches(stored, Headers(("Accept-Language", "en-US"))));
        Assert.True(Vary.Matches(stored, Headers(("accept-language", "en-US"))));
        Assert.False(Vary.Matches(stored, Headers(("Accept-Language", "fr"))));
        Assert.False(Vary.Matches(stored, Headers()));
    }

    [Fact]
    public void Rfc9111_4_1_Whitespace_and_field_lines_are_normalised()
    {
        var stored = StoredFor("Accept-Language", Headers(("Accept-Language", "en, fr")));

        Assert.True(Vary.Matches(stored, Headers(("Accept-Language", "  en,   fr "))));
        Assert.True(Vary.Matches(stored, Headers(("Accept-Language", "en"), ("Accept-Language", "fr"))));
        Assert.False(Vary.Matches(stored, Headers(("Accept-Language", "fr, en"))));
    }

    [Theory]
    [InlineData("a,b", true)]
    [InlineData("a , b", true)]
    [InlineData("  a,\t b ", true)]
    [InlineData("a,  b", true)]
    [InlineData("b, a", false)] // the order of an unknown field's members may mean something
    [InlineData("ab", false)]
    [InlineData("a b", false)]
    [InlineData("A, B", false)] // nor is its case known not to
    [InlineData("a;b", false)]
    [InlineData("a, , b", false)]
    public void Rfc9111_4_1_an_unknown_selecting_field_is_normalised_by_the_whitespace_around_list_members(string value, bool sameVariant)
    {
        // §4.1: fields match when one can be turned into the other by "adding or removing whitespace,
        // where allowed in the header field's syntax" (OWS around list commas, RFC 9110 §5.6.1) and
        // "combining multiple header field lines".
        var stored = StoredFor("X-Device", Headers(("X-Device", "a, b")));

        Assert.Equal(sameVariant, Vary.Matches(stored, Headers(("X-Device", value))));
        Assert.True(Vary.Matches(stored, Headers(("X-Device", "a"), ("X-Device", "b"))));
        Assert.True(Vary.Matches(stored, Headers(("X-Device", " a "), ("X-Device", "\tb"))));
    }

    [Theory]
    [InlineData("\"x , y\",z", true)]
    [InlineData("\"x , y\" ,  z", true)]
    [InlineData("\"x, y\", z", false)]
    [InlineData("\"x ,  y\", z", false)]
    [InlineData("\"x , y\", \"z\"", false)]
    public void Rfc9111_4_1_whitespace_inside_a_quoted_string_is_kept(string value, bool sameVariant)
    {
        var stored = StoredFor("X-Device", Headers(("X-Device", "\"x , y\", z")));

        Assert.Equal(sameVariant, Vary.Matches(stored, Headers(("X-Device", value))));
    }

    [Theory]
    [InlineData("a, b")]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)")]
    [InlineData("\"q\\\", \" , x")]
    public void Rfc9111_4_1_a_value_already_in_normal_form_is_its_own_key_without_allocating(string value)
    {
        var field = new StringValues(value);
        var normal = Vary.Normalize("x-device", field);
        Assert.Equal(normal, Vary.Normalize("x-device", new StringValues(normal)));
        if (normal != value) return;

        Assert.Same(value, normal);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) Vary.Normalize("x-device", field);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void Rfc9111_4_1_Absent_field_matches_only_absent()
    {
        var storedAbsent = StoredFor("X-Variant", Headers());

        Assert.True(Vary.Matches(storedAbsent, Headers()));
        Assert.False(Vary.Matches(storedAbsent, Headers(("X-Variant", ""))));
        Assert.False(Vary.Matches(storedAbsent, Headers(("X-Variant", "a"))));
    }

    [Fact]
    public void Rfc9111_4_1_Empty_field_matches_only_empty()
    {
        var storedEmpty = StoredFor("X-Variant", Headers(("X-Variant", "")));

        Assert.True(Vary.Matches(storedEmpty, Headers(("X-Variant", ""))));
        Assert.False(Vary.Matches(storedEmpty, Headers()));
        Assert.False(Vary.Matches(storedEmpty, Headers(("X-Variant", "a"))));
    }

    [Fact]
    public void Rfc9111_4_1_Every_named_field_must_match()
    {
        var stored = StoredFor("Accept-Language, X-Device", Headers(("Accept-Language", "en"), ("X-Device", "mobile")));

        Assert.True(Vary.Matches(stored, Headers(("Accept-Language", "en"), ("X-Device", "mobile"))));
        Assert.False(Vary.Matches(stored, Headers(("Accept-Language", "en"), ("X-Device", "desktop"))));
        Assert.False(Vary.Matches(stored, Headers(("Accept-Language", "de"), ("X-Device", "mobile"))));
        Assert.False(Vary.Matches(stored, Headers(("Accept-Language", "en"))));
    }

    [Fact]
    public void Rfc9111_4_1_Vary_star_never_matches()
    {
        var request = Headers(("Accept-Language", "en"));
        var stored = StoredFor("*", request);

        Assert.Equal(["*"], stored.VaryNames);
        Assert.False(Vary.Matches(stored, request));
        Assert.False(Vary.Matches(stored, Headers()));
        Assert.False(Vary.Matches(StoredFor("Accept-Language, *", request), request));
    }

    [Theory]
    [InlineData("gzip, br")]
    [InlineData("br;q=1.0, gzip")]
    [InlineData("gzip;q=0.5, br;q=0.9")]
    [InlineData("GZIP, Br")]
    [InlineData("br,gzip,compress")]
    [InlineData("gzip , br ; q=0.8")]
    public void Rfc9110_12_5_3_Accept_encoding_variants_with_the_same_codings_normalise_alike(string value)
    {
        Assert.Equal("br,gzip", Vary.NormalizeAcceptEncoding(value));
    }

    [Fact]
    public void Rfc9110_12_5_3_Accept_encoding_over_several_lines()
    {
        Assert.Equal("br,gzip", Vary.NormalizeAcceptEncoding(new StringValues(["gzip", "br"])));
    }

    [Theory]
    [InlineData("gzip;q=0", "identity")]
    [InlineData("gzip;q=0.000", "identity")]
    [InlineData("gzip; q=0, br", "br")]
    [InlineData("gzip;Q=0, deflate", "deflate")]
    [InlineData("gzip;q=0.001", "gzip")]
    public void Rfc9110_12_5_3_Coding_with_q_zero_is_not_acceptable(string value, string expected)
    {
        Assert.Equal(expected, Vary.NormalizeAcceptEncoding(value));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("identity")]
    [InlineData("compress, x-custom")]
    public void Rfc9110_12_5_3_No_known_coding_normalises_to_identity(string? value)
    {
        Assert.Equal("identity", Vary.NormalizeAcceptEncoding(value));
    }

    [Fact]
    public void Rfc9110_12_5_3_Absent_accept_encoding_is_identity()
    {
        Assert.Equal("identity", Vary.NormalizeAcceptEncoding(StringValues.Empty));
        Assert.Equal("identity", Vary.Normalize("accept-encoding", StringValues.Empty));
    }

    [Fact]
    public void Rfc9110_12_5_3_Wildcard_accepts_every_known_coding()
    {
        Assert.Equal("br,gzip,zstd,deflate", Vary.NormalizeAcceptEncoding("*"));
        // "*;q=0" without naming identity refuses identity too (RFC 9110 §12.5.3).
        Assert.Equal("identity;q=0", Vary.NormalizeAcceptEncoding("*;q=0"));
        Assert.Equal("identity", Vary.NormalizeAcceptEncoding("*;q=0, identity"));
    }

    [Theory]
    [InlineData("x-gzip", "gzip")]
    [InlineData("X-GZIP;q=0.5, br", "br,gzip")]
    [InlineData("x-gzip;q=0, gzip", "gzip")]
    [InlineData("gzip, identity;q=0", "gzip;identity=0")]
    [InlineData("identity;q=0", "identity;q=0")]
    public void Rfc9110_12_5_3_x_gzip_is_gzip_and_a_refused_identity_is_its_own_variant(string value, string expected)
    {
        Assert.Equal(expected, Vary.NormalizeAcceptEncoding(value));
    }

    [Theory]
    [InlineData("gzip", "gzip", true)]
    [InlineData("gzip;q=0", "gzip", false)]
    [InlineData("x-gzip", "gzip", true)]
    [InlineData(null, "gzip", false)]
    [InlineData("", "gzip", false)]
    [InlineData("br", "gzip", false)]
    [InlineData("*", "br", true)]
    [InlineData("*, br;q=0", "br", false)]
    [InlineData("gzip, br", "gzip,br", true)]
    [InlineData("gzip", "gzip,br", false)]
    [InlineData("gzip", "compress", false)]
    [InlineData(null, null, true)]
    [InlineData("gzip;q=0", null, true)]
    public void Rfc9110_12_5_3_a_client_accepts_a_coding_only_with_q_above_zero(string? acceptEncoding, string? coding, bool accepts)
    {
        Assert.Equal(accepts, ContentCoding.Accepts(acceptEncoding, coding));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("identity", null)]
    [InlineData("GZIP", "gzip")]
    [InlineData("x-gzip", "gzip")]
    [InlineData("gzip, br", "gzip,br")]
    public void Rfc9110_8_4_a_content_coding_normalises_with_its_aliases(string? contentEncoding, string? expected)
    {
        Assert.Equal(expected, ContentCoding.Of(contentEncoding));
    }

    [Fact]
    public void Rfc9110_12_5_3_Wildcard_does_not_accept_a_coding_refused_with_q_zero()
    {
        Assert.Equal("br,zstd,deflate", Vary.NormalizeAcceptEncoding("*, gzip;q=0"));
        Assert.Equal("br,zstd,deflate", Vary.NormalizeAcceptEncoding("gzip;q=0, *"));
    }

    [Fact]
    public void Rfc9111_4_1_Accept_encoding_variant_matches_an_equivalent_request()
    {
        var stored = StoredFor("Accept-Encoding", Headers(("Accept-Encoding", "gzip, deflate, br")));

        Assert.Equal(["br,gzip,deflate"], stored.VaryValues);
        Assert.True(Vary.Matches(stored, Headers(("Accept-Encoding", "br;q=1.0, deflate, gzip;q=0.8"))));
        Assert.False(Vary.Matches(stored, Headers(("Accept-Encoding", "gzip"))));
        Assert.False(Vary.Matches(stored, Headers()));
    }

    [Fact]
    public void Rfc9111_4_1_Absent_and_identity_accept_encoding_share_a_variant()
    {
        var stored = StoredFor("Accept-Encoding", Headers());

        Assert.Equal(["identity"], stored.VaryValues);
        Assert.True(Vary.Matches(stored, Headers(("Accept-Encoding", "identity"))));
        Assert.True(Vary.Matches(stored, Headers(("Accept-Encoding", "gzip;q=0"))));
    }
}
