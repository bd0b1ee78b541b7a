using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine.Tests;

/// <summary>Negotiation of a content coding (RFC 9110 §12.5.3, qvalues §12.4.2) for the default order br, zstd, gzip.</summary>
public class AcceptEncodingNegotiationTests
{
    private static readonly AcceptEncodingNegotiation Default = new(CompressionPolicy.SupportedCodings);

    [Theory]
    // RFC 9110 §12.5.3's own examples.
    [InlineData("compress, gzip", "gzip")]
    [InlineData("", "identity")]
    [InlineData("*", "br")]
    [InlineData("compress;q=0.5, gzip;q=1.0", "gzip")]
    [InlineData("gzip;q=1.0, identity; q=0.5, *;q=0", "gzip")]
    // The client's q-values rank first; the host's order breaks ties.
    [InlineData("gzip, deflate, br", "br")]
    [InlineData("gzip, deflate, br, zstd", "br")]
    [InlineData("zstd, gzip", "zstd")]
    [InlineData("br;q=0.5, gzip", "gzip")]
    [InlineData("br;q=0.9, zstd;q=0.9, gzip;q=0.1", "br")]
    [InlineData("BR", "br")]
    [InlineData("x-gzip", "gzip")]
    // "*" accepts what is not named; q=0 refuses even then.
    [InlineData("br;q=0, *", "zstd")]
    [InlineData("br;q=0, zstd;q=0, *;q=0.2", "gzip")]
    // identity: acceptable unless refused, below every accepted coding unless named with a higher q.
    [InlineData("gzip;q=0.5, identity", "identity")]
    [InlineData("gzip;q=0.5", "gzip")]
    [InlineData("identity", "identity")]
    [InlineData("deflate", "identity")]
    // Everything refused, identity included: the field is disregarded (§12.5.3), identity is sent.
    [InlineData("identity;q=0", "identity")]
    [InlineData("*;q=0", "identity")]
    [InlineData("gzip;q=0, identity;q=0", "identity")]
    // A qvalue that is not one (§12.4.2) makes its member invalid: ignored.
    [InlineData("gzip;q=1.5", "identity")]
    [InlineData("gzip;q=0.5555", "identity")]
    [InlineData("gzip;q=abc, br;q=0.1", "br")]
    [InlineData("br;q=0.001", "br")]
    [InlineData("br;q=1.000", "br")]
    [InlineData(" , ,gzip", "gzip")]
    public void Picks_the_coding_RFC_9110_describes(string acceptEncoding, string expected)
    {
        Assert.Equal(expected, Default.Negotiate(acceptEncoding.AsSpan()));
        Assert.Equal(expected, Default.Negotiate(new StringValues(acceptEncoding)));
    }

    [Fact]
    public void No_field_is_identity_and_several_lines_are_one_list()
    {
        Assert.Equal("identity", Default.Negotiate(StringValues.Empty));
        Assert.Equal("gzip", Default.Negotiate(new StringValues(["br;q=0.1", "gzip"])));
    }

    [Fact]
    public void The_hosts_order_breaks_ties_and_unoffered_codings_are_never_picked()
    {
        var gzipFirst = new AcceptEncodingNegotiation(["gzip", "br"]);
        Assert.Equal("gzip", gzipFirst.Negotiate("br, gzip, zstd".AsSpan()));
        Assert.Equal("identity", gzipFirst.Negotiate("zstd".AsSpan()));
        Assert.Equal("br", gzipFirst.Negotiate("br, gzip;q=0.5".AsSpan()));
    }

    [Fact]
    public void A_remembered_value_gives_the_same_answer()
    {
        var n = new AcceptEncodingNegotiation(CompressionPolicy.SupportedCodings);
        for (var i = 0; i < 3; i++) Assert.Equal("gzip", n.Negotiate("br;q=0, gzip".AsSpan()));
    }
}

public class RepresentationTests
{
    private static readonly CompressionPolicy Policy = new() { Enabled = true };

#pragma warning disable CA1859 // the typed properties (Vary, CacheControl) are IHeaderDictionary's
    private static IHeaderDictionary Response(params (string Name, string Value)[] fields)
    {
        IHeaderDictionary h = new HeaderDictionary();
        foreach (var (name, value) in fields) h.Append(name, value);
        return h;
    }
#pragma warning restore CA1859

    [Theory]
    [InlineData("\"v1\"", "br", "\"v1-br\"")]
    [InlineData("W/\"v1\"", "gzip", "W/\"v1-gzip\"")]
    [InlineData("\"\"", "zstd", "\"-zstd\"")]
    [InlineData("v1", "br", null)]
    public void Entity_tags_get_a_suffix_per_coding(string etag, string coding, string? expected) =>
        Assert.Equal(expected, Representation.SuffixETag(etag, coding));

    [Fact]
    public void Text_without_a_coding_is_a_compressible_original()
    {
        Assert.True(Representation.IsOriginal(200, Response(("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "1000")), Policy, out var coding, out var compressible));
        Assert.Null(coding);
        Assert.True(compressible);
    }

    [Theory]
    [InlineData(206, "text/html", "1000", null, null, null)]
    [InlineData(200, "image/png", "1000", null, null, null)]
    [InlineData(200, "text/html", "100", null, null, null)]
    [InlineData(200, "text/html", "1000", "no-transform", null, null)]
    [InlineData(200, "text/html", "1000", null, "Cookie", null)]
    [InlineData(200, "text/html", "1000", null, null, "deflate")]
    [InlineData(200, "text/html", "1000", null, null, "gzip, br")]
    public void No_transform_partial_content_other_Vary_fields_and_foreign_codings_are_left_as_they_are(int status, string type, string length, string? cacheControl, string? vary, string? coding)
    {
        var h = Response(("Content-Type", type), ("Content-Length", length));
        if (cacheControl is not null) h.CacheControl = cacheControl;
        if (vary is not null) h.Vary = vary;
        if (coding is not null) h.ContentEncoding = coding;
        Assert.False(Representation.IsOriginal(status, h, Policy, out _, out _));
    }

    [Fact]
    public void An_origins_gzip_is_an_original_that_is_decoded_or_reencoded()
    {
        Assert.True(Representation.IsOriginal(200, Response(("Content-Type", "image/png"), ("Content-Encoding", "gzip")), Policy, out var coding, out var compressible));
        Assert.Equal("gzip", coding);
        Assert.False(compressible);
        Assert.Null(Representation.TargetCoding("br", "gzip", compressible));
        Assert.Null(Representation.TargetCoding("identity", "gzip", compressible));
        Assert.Equal("br", Representation.TargetCoding("br", "gzip", compressible: true));
        Assert.Equal("gzip", Representation.TargetCoding("gzip", "gzip", compressible));
    }

    [Fact]
    public void Vary_gets_Accept_Encoding_once_merged_with_the_origins()
    {
        var h = Response(("Vary", "Accept-Language"));
        Representation.AddVary(h);
        Representation.AddVary(h);
        Assert.Equal(["accept-language", "accept-encoding"], Vary.ParseNames(h.Vary));
    }

    [Theory]
    [InlineData("Codings:0", "deflate", "Codings entry 'deflate'")]
    [InlineData("ContentTypes:0", "text", "ContentTypes entry 'text'")]
    [InlineData("ContentTypes:0", "te*xt/html", "ContentTypes entry")]
    [InlineData("BrotliLevel", "12", "BrotliLevel must be 0-11")]
    [InlineData("GzipLevel", "0", "GzipLevel must be 1-9")]
    [InlineData("ZstdLevel", "23", "ZstdLevel must be 1-22")]
    [InlineData("MaxBytes", "10", "MaxBytes must be at least MinBytes")]
    public void Bad_settings_are_named(string setting, string value, string message)
    {
        var p = new CompressionPolicy();
        switch (setting)
        {
            case "Codings:0": p.Codings = [value]; break;
            case "ContentTypes:0": p.ContentTypes = [value]; break;
            case "BrotliLevel": p.BrotliLevel = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "GzipLevel": p.GzipLevel = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "ZstdLevel": p.ZstdLevel = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "MaxBytes": p.MaxBytes = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
        }

        Assert.Contains(message, p.Validate(), StringComparison.Ordinal);
        Assert.Null(new CompressionPolicy().Validate());
    }

    [Theory]
    [InlineData("text/html; charset=utf-8", true)]
    [InlineData("TEXT/CSS", true)]
    [InlineData("application/json", true)]
    [InlineData("image/svg+xml", true)]
    [InlineData("application/wasm", true)]
    [InlineData("image/png", false)]
    [InlineData("application/jsonx", false)]
    [InlineData(null, false)]
    public void The_default_content_types(string? type, bool expected) => Assert.Equal(expected, Policy.Compresses(type));
}
