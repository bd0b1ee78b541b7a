using System.Buffers;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine.Tests;

/// <summary>Image variant requests (issue 19): the options' namespace, quantisation, the canonical key,
/// refusals of invalid values, format=auto by Accept, and the formats told by their bytes.</summary>
public class ImageRequestTests
{
    private static readonly ImagePolicy Policy = new() { Enabled = true };

    private static ImageRequest Parse(string path, ImagePolicy? policy = null)
    {
        Assert.Equal(ImageParse.Image, ImageRequest.TryParse(path, policy ?? Policy, out var request, out var error));
        Assert.Null(error);
        return request!;
    }

    [Fact]
    public void The_issue_example_names_its_original_and_keeps_its_options()
    {
        var r = Parse("/_img/width=400,format=auto/photos/cat.jpg");
        Assert.Equal("/photos/cat.jpg", r.OriginalPathAndQuery);
        Assert.Equal(400, r.Width);
        Assert.True(r.Auto);
        Assert.Equal("/_img/width=400,format=auto/photos/cat.jpg", r.CanonicalPathAndQuery);
    }

    [Theory]
    // Anything outside the namespace is the origin's.
    [InlineData("/photos/cat.jpg")]
    [InlineData("/_image/width=400/cat.jpg")]
    [InlineData("/x/_img/width=400/cat.jpg")]
    public void Paths_outside_the_prefix_are_not_image_requests(string path) =>
        Assert.Equal(ImageParse.NotImage, ImageRequest.TryParse(path, Policy, out _, out _));

    [Theory]
    // Every spelling of one variant is one key: order, defaults and values within one step.
    [InlineData("/_img/format=webp,width=400/a.jpg", "/_img/width=400,format=webp/a.jpg")]
    [InlineData("/_img/width=390,format=webp/a.jpg", "/_img/width=400,format=webp/a.jpg")]
    [InlineData("/_img/width=321/a.jpg", "/_img/width=400/a.jpg")]
    [InlineData("/_img/width=400,fit=scale-down,quality=80,dpr=1/a.jpg", "/_img/width=400/a.jpg")]
    [InlineData("/_img/width=9000/a.jpg", "/_img/width=2560/a.jpg")]
    [InlineData("/_img/height=50,fit=cover,width=60/a.jpg", "/_img/width=64,height=64,fit=cover/a.jpg")]
    [InlineData("/_img/width=400,quality=73/a.jpg", "/_img/width=400/a.jpg")]
    [InlineData("/_img/width=400,quality=72/a.jpg", "/_img/width=400,quality=65/a.jpg")]
    [InlineData("/_img/width=400,quality=100/a.jpg", "/_img/width=400,quality=90/a.jpg")]
    [InlineData("/_img/width=400,dpr=1.2/a.jpg", "/_img/width=400,dpr=1.5/a.jpg")]
    [InlineData("/_img/width=400,dpr=9/a.jpg", "/_img/width=400,dpr=3/a.jpg")]
    // dpr without a size changes nothing.
    [InlineData("/_img/dpr=2,format=png/a.jpg", "/_img/format=png/a.jpg")]
    [InlineData("/_img/quality=80/a.jpg", "/_img/quality=80/a.jpg")]
    // The original's own query is the origin's, kept as it is.
    [InlineData("/_img/width=400/a.jpg?v=3&b=1", "/_img/width=400/a.jpg?v=3&b=1")]
    public void Options_are_quantised_into_one_canonical_key(string path, string canonical) =>
        Assert.Equal(canonical, Parse(path).CanonicalPathAndQuery);

    [Fact]
    public void The_output_size_is_the_step_times_the_device_pixel_ratio()
    {
        var r = Parse("/_img/width=390,height=200,dpr=1.4/a.jpg");
        Assert.Equal((400, 256, 1.5), (r.Width!.Value, r.Height!.Value, r.Dpr));
        Assert.Equal((600, 384), (r.PixelWidth!.Value, r.PixelHeight!.Value));
    }

    [Fact]
    public void Configured_steps_replace_the_defaults()
    {
        var policy = new ImagePolicy { Enabled = true, Widths = [100, 200], Qualities = [40, 70], DefaultQuality = 70, Dprs = [1, 2], PathPrefix = "/cdn-img/" };
        Assert.Null(policy.Validate());
        Assert.Equal("/cdn-img/width=200,quality=40,dpr=2/p.png", Parse("/cdn-img/width=101,quality=45,dpr=1.1/p.png", policy).CanonicalPathAndQuery);
        Assert.Equal(ImageParse.NotImage, ImageRequest.TryParse("/_img/width=100/p.png", policy, out _, out _));
    }

    [Theory]
    [InlineData("/_img/width=abc/a.jpg", "width='abc'")]
    [InlineData("/_img/width=0/a.jpg", "width='0'")]
    [InlineData("/_img/width=-5/a.jpg", "width='-5'")]
    [InlineData("/_img/width=10001/a.jpg", "width='10001'")]
    [InlineData("/_img/width=4.5/a.jpg", "width='4.5'")]
    [InlineData("/_img/height=/a.jpg", "height=''")]
    [InlineData("/_img/fit=stretch/a.jpg", "fit='stretch'")]
    [InlineData("/_img/quality=0/a.jpg", "quality='0'")]
    [InlineData("/_img/quality=101/a.jpg", "quality='101'")]
    [InlineData("/_img/format=bmp/a.jpg", "format='bmp'")]
    [InlineData("/_img/format=WEBP/a.jpg", "format='WEBP'")]
    [InlineData("/_img/dpr=0/a.jpg", "dpr='0'")]
    [InlineData("/_img/dpr=x/a.jpg", "dpr='x'")]
    [InlineData("/_img/width=400,width=500/a.jpg", "given twice")]
    [InlineData("/_img/blur=5/a.jpg", "'blur' is not an image option")]
    [InlineData("/_img/width/a.jpg", "not name=value")]
    [InlineData("/_img/width=400,/a.jpg", "not name=value")]
    [InlineData("/_img//a.jpg", "names no options")]
    [InlineData("/_img/width=400", "{options}/{path of the original}")]
    [InlineData("/_img/width=400/", "names no original")]
    [InlineData("/_img/width=400/?q=1", "names no original")]
    [InlineData("/_img/width=400/_img/width=200/a.jpg", "another image URL")]
    public void An_invalid_option_is_refused_with_what_is_wrong(string path, string says)
    {
        Assert.Equal(ImageParse.Invalid, ImageRequest.TryParse(path, Policy, out var request, out var error));
        Assert.Null(request);
        Assert.Contains(says, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Avif_off_refuses_format_avif_and_auto_never_chooses_it()
    {
        var policy = new ImagePolicy { Enabled = true, Avif = false };
        Assert.Equal(ImageParse.Invalid, ImageRequest.TryParse("/_img/format=avif/a.jpg", policy, out _, out var error));
        Assert.Contains("AVIF is off", error, StringComparison.Ordinal);
        Assert.Equal(ImageRequest.AcceptWebp, ImageRequest.NegotiateAccept("image/avif,image/webp,*/*", avif: false));
    }

    [Theory]
    // What browsers send for images.
    [InlineData("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", ImageRequest.AcceptAvif)]
    [InlineData("image/webp,*/*", ImageRequest.AcceptWebp)]
    [InlineData("image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5", ImageRequest.AcceptAny)]
    [InlineData("*/*", ImageRequest.AcceptAny)]
    [InlineData("", ImageRequest.AcceptAny)]
    // A wildcard chooses neither; q=0 refuses (RFC 9110 §12.4.2).
    [InlineData("image/*", ImageRequest.AcceptAny)]
    [InlineData("image/avif;q=0, image/webp", ImageRequest.AcceptWebp)]
    [InlineData("image/avif ; q=0.0, image/webp;q=0", ImageRequest.AcceptAny)]
    [InlineData("IMAGE/AVIF", ImageRequest.AcceptAvif)]
    // The normalised values are fixed points: a shield reading an edge's rewritten Accept chooses the same.
    [InlineData(ImageRequest.AcceptAvif, ImageRequest.AcceptAvif)]
    [InlineData(ImageRequest.AcceptWebp, ImageRequest.AcceptWebp)]
    public void Auto_reduces_any_accept_to_one_of_three_values(string accept, string expected)
    {
        Assert.Equal(expected, ImageRequest.NegotiateAccept(new StringValues(accept), avif: true));

        // The fast hit path's form (one line, from the request's bytes) decides the same.
        Assert.Equal(expected, ImageRequest.NegotiateAccept(accept.AsSpan(), avif: true));
    }

    [Fact]
    public void Accept_sent_as_several_lines_is_read_as_one_list()
    {
        Assert.Equal(ImageRequest.AcceptWebp, ImageRequest.NegotiateAccept(new StringValues(["image/png", "image/webp"]), avif: true));
        Assert.Equal(ImageRequest.AcceptAny, ImageRequest.NegotiateAccept(new StringValues(["image/webp", "image/webp;q=0"]), avif: true));
    }

    [Theory]
    [InlineData("auto", "jpeg", false, "avif", "avif")]
    [InlineData("auto", "jpeg", false, null, "jpeg")]
    [InlineData(null, "png", false, null, "png")]
    [InlineData("webp", "png", false, null, "webp")]
    // Animation survives only in WebP and GIF: auto's AVIF falls back to the original's format.
    [InlineData("auto", "gif", true, "avif", "gif")]
    [InlineData("auto", "gif", true, "webp", "webp")]
    [InlineData(null, "gif", true, null, "gif")]
    public void The_target_format_follows_the_request_and_the_original(string? format, string source, bool animated, string? chosen, string expected)
    {
        var r = Parse(format is null ? "/_img/width=400/a" : $"/_img/width=400,format={format}/a");
        Assert.Equal(expected, r.TargetFormat(source, animated, chosen, Policy, out var refusal));
        Assert.Null(refusal);
    }

    [Fact]
    public void Animated_originals_are_refused_by_setting_or_for_a_still_format()
    {
        Assert.Null(Parse("/_img/format=jpeg/a.gif").TargetFormat("gif", animated: true, null, Policy, out var refusal));
        Assert.Equal("animated-format", refusal);
        var refuse = new ImagePolicy { Enabled = true, Animated = AnimatedImages.Refuse };
        Assert.Null(Parse("/_img/format=webp/a.gif", refuse).TargetFormat("gif", animated: true, null, refuse, out refusal));
        Assert.Equal("animated", refusal);
    }

    [Fact]
    public void Each_variant_has_its_own_entity_tag_suffix()
    {
        var a = Parse("/_img/width=400,format=auto/a.jpg");
        Assert.NotEqual(a.ETagSuffix("avif"), a.ETagSuffix("webp"));
        Assert.NotEqual(a.ETagSuffix("webp"), Parse("/_img/width=640,format=auto/a.jpg").ETagSuffix("webp"));
        Assert.Equal(a.ETagSuffix("webp"), Parse("/_img/format=auto,width=390/a.jpg").ETagSuffix("webp"));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0 }, "jpeg")]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0 }, "png")]
    [InlineData(new byte[] { (byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'9', (byte)'a' }, "gif")]
    [InlineData(new byte[] { 0xFF, 0xD8 }, null)]
    [InlineData(new byte[] { }, null)]
    public void Formats_are_told_by_their_bytes(byte[] head, string? expected) =>
        Assert.Equal(expected, ImageFormats.Sniff(head));

    [Theory]
    [InlineData("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "svg")]
    [InlineData("\uFEFF  <?xml version=\"1.0\"?><svg/>", "svg")]
    [InlineData("RIFF\0\0\0\0WEBPVP8 ", "webp")]
    [InlineData("\0\0\0\u001cftypavif", "avif")]
    [InlineData("<html>", null)]
    public void Text_and_container_formats_are_told_by_their_bytes(string head, string? expected) =>
        Assert.Equal(expected, ImageFormats.Sniff(Encoding.UTF8.GetBytes(head)));

    [Fact]
    public void A_gif_with_two_frames_is_animated_and_one_with_one_is_not()
    {
        byte[] Gif(int frames)
        {
            var b = new List<byte>();
            b.AddRange("GIF89a"u8.ToArray());
            b.AddRange(new byte[] { 1, 0, 1, 0, 0x80, 0, 0 }); // 1x1, global table of 2 colours
            b.AddRange(new byte[6]);
            b.AddRange(new byte[] { 0x21, 0xF9, 4, 0, 0, 0, 0, 0 }); // graphic control extension
            for (var i = 0; i < frames; i++) b.AddRange(new byte[] { 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0 });
            b.Add(0x3B);
            return [.. b];
        }

        Assert.False(ImageFormats.IsAnimated(new ReadOnlySequence<byte>(Gif(1)), "gif"));
        Assert.True(ImageFormats.IsAnimated(new ReadOnlySequence<byte>(Gif(2)), "gif"));
        Assert.False(ImageFormats.IsAnimated(new ReadOnlySequence<byte>(Gif(2)[..20]), "gif"));

        // Complete only when the walk reaches the trailer: any cut before it (mid-block, or just the trailer lost) is not.
        Assert.True(ImageFormats.IsCompleteGif(new ReadOnlySequence<byte>(Gif(1))));
        Assert.True(ImageFormats.IsCompleteGif(new ReadOnlySequence<byte>(Gif(3))));
        var three = Gif(3);
        for (var cut = 0; cut < three.Length; cut++)
        {
            Assert.False(ImageFormats.IsCompleteGif(new ReadOnlySequence<byte>(three[..cut])), $"cut at {cut}");
        }
    }

    [Theory]
    [InlineData("img/")]
    [InlineData("/img")]
    [InlineData("/a/b/")]
    [InlineData("/")]
    public void A_prefix_that_is_not_one_segment_is_refused(string prefix) =>
        Assert.Contains("PathPrefix", new ImagePolicy { PathPrefix = prefix }.Validate(), StringComparison.Ordinal);

    [Fact]
    public void Steps_out_of_order_or_range_are_refused()
    {
        Assert.Contains("increasing", new ImagePolicy { Widths = [400, 200] }.Validate(), StringComparison.Ordinal);
        Assert.Contains("1-100", new ImagePolicy { Qualities = [0] }.Validate(), StringComparison.Ordinal);
        Assert.Contains("0.5-4", new ImagePolicy { Dprs = [8] }.Validate(), StringComparison.Ordinal);
        Assert.Contains("MaxPixels", new ImagePolicy { MaxPixels = 0 }.Validate(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_quality_is_scaled_per_format_for_its_encoder()
    {
        var policy = new ImagePolicy();
        Assert.Equal((76, 80, 66, 80), (policy.EncoderQuality("jpeg", 80), policy.EncoderQuality("webp", 80), policy.EncoderQuality("avif", 80), policy.EncoderQuality("png", 80)));
        Assert.Equal((48, 50, 42), (policy.EncoderQuality("jpeg", 50), policy.EncoderQuality("webp", 50), policy.EncoderQuality("avif", 50)));
        var scaled = new ImagePolicy { JpegQualityScale = 2, WebpQualityScale = 1.1, AvifQualityScale = 0.01 };
        Assert.Null(scaled.Validate());
        Assert.Equal((100, 88, 1), (scaled.EncoderQuality("jpeg", 90), scaled.EncoderQuality("webp", 80), scaled.EncoderQuality("avif", 50)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(2.5)]
    [InlineData(double.NaN)]
    public void A_quality_scale_out_of_range_is_refused_by_name(double scale)
    {
        Assert.Contains("JpegQualityScale", new ImagePolicy { JpegQualityScale = scale }.Validate(), StringComparison.Ordinal);
        Assert.Contains("WebpQualityScale", new ImagePolicy { WebpQualityScale = scale }.Validate(), StringComparison.Ordinal);
        Assert.Contains("AvifQualityScale", new ImagePolicy { AvifQualityScale = scale }.Validate(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_purge_of_the_original_url_or_a_prefix_reaches_its_variants()
    {
        var rules = new InvalidationRules();
        string? Locate(string url) => url.Replace("http://", "", StringComparison.Ordinal);
        string[] tags = ["a-tag", Representation.DerivedFromTag + "/photos/cat.jpg"];
        const string variant = "http://img.example.com/_img/width=400/photos/cat.jpg";
        Assert.Equal(RuleKind.None, rules.Evaluate(variant, tags, storedSeq: 0).Kind);
        rules.Apply(new InvalidationEvent { Id = "t", Urls = ["http://img.example.com/photos/dog.jpg"] }, 1, default, Locate);
        Assert.Equal(RuleKind.None, rules.Evaluate(variant, tags, storedSeq: 0).Kind);
        rules.Apply(new InvalidationEvent { Id = "t", Urls = ["http://img.example.com/photos/cat.jpg"] }, 2, default, Locate);
        Assert.Equal(RuleKind.Hard, rules.Evaluate(variant, tags, storedSeq: 1).Kind);
        Assert.Equal(RuleKind.None, rules.Evaluate(variant, tags, storedSeq: 2).Kind);
        rules.Apply(new InvalidationEvent { Id = "t", Prefixes = ["http://img.example.com/photos/"], Soft = true }, 3, default, Locate);
        Assert.Equal(RuleKind.Soft, rules.Evaluate(variant, tags, storedSeq: 2).Kind);

        // Another host's original of the same path is not this variant's.
        rules.Apply(new InvalidationEvent { Id = "t", Urls = ["http://other.example.com/photos/cow.jpg"] }, 4, default, Locate);
        Assert.Equal(RuleKind.None, rules.Evaluate(variant, [Representation.DerivedFromTag + "/photos/cow.jpg"], storedSeq: 3).Kind);
    }
}
