using System.Globalization;

namespace EdgeCache.Engine;

/// <summary>What a tier does with an animated original (GIF, animated WebP).</summary>
public enum AnimatedImages
{
    /// <summary>Resized and kept animated (WebP or GIF out; a request for AVIF, JPEG or PNG gets the original).</summary>
    Keep,

    /// <summary>Never transformed: the original is served.</summary>
    Refuse,
}

/// <summary>
/// Per-host image variants (<c>Images</c> in a host's policy): requests under <see cref="PathPrefix"/>
/// (<c>/_img/width=400,format=auto/photos/cat.jpg</c>) are answered with a variant of the original
/// (<c>/photos/cat.jpg</c>) made once by the shield and cached like any object, a derived representation
/// in the sense of <see cref="Representation"/>. Off by default. Every option is quantised to the
/// steps here, so a client cannot make unbounded variants.
/// </summary>
public sealed class ImagePolicy
{
    private static readonly System.Buffers.SearchValues<char> Reserved = System.Buffers.SearchValues.Create("/?#%, =");

    /// <summary>Default width and height steps, in CSS pixels (before <c>dpr</c>).</summary>
    public static readonly int[] DefaultSteps = [64, 128, 256, 320, 400, 480, 640, 768, 960, 1024, 1280, 1600, 1920, 2560];

    /// <summary>Default quality steps.</summary>
    public static readonly int[] DefaultQualities = [50, 65, 80, 90];

    /// <summary>Default device-pixel-ratio steps.</summary>
    public static readonly double[] DefaultDprs = [1, 1.5, 2, 3];

    /// <summary>Answer requests under <see cref="PathPrefix"/> with image variants. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The options' namespace: a path prefix that starts and ends with <c>/</c>. Default <c>/_img/</c>.</summary>
    public string PathPrefix { get; set; } = "/_img/";

    /// <summary>Width steps (a width is rounded up to the next step; above the last, the last). Default <see cref="DefaultSteps"/>.</summary>
    public int[]? Widths { get; set; }

    /// <summary>Height steps, as <see cref="Widths"/>. Default <see cref="DefaultSteps"/>.</summary>
    public int[]? Heights { get; set; }

    /// <summary>Quality steps (a quality is rounded to the nearest). Default 50, 65, 80, 90.</summary>
    public int[]? Qualities { get; set; }

    /// <summary>Quality when the request names none. Default 80 (rounded to a step too).</summary>
    public int DefaultQuality { get; set; } = 80;

    /// <summary>The JPEG encoder's quality for a variant of quality q is q times this (rounded, 1-100), so that one
    /// <c>quality</c> means about the same look in every format. Default 0.95 (80 is JPEG 76: at 400 px from a
    /// 2000x1500 photo, smaller and higher in SSIM than nginx's image_filter at its quality 75).</summary>
    public double JpegQualityScale { get; set; } = 0.95;

    /// <summary>As <see cref="JpegQualityScale"/> for WebP. Default 1 (80 is WebP 80).</summary>
    public double WebpQualityScale { get; set; } = 1.0;

    /// <summary>As <see cref="JpegQualityScale"/> for AVIF, whose quantiser reads lower for the same look. Default
    /// 0.83 (80 is AVIF 66: smaller than nginx's JPEG there too, and higher in SSIM).</summary>
    public double AvifQualityScale { get; set; } = 0.83;

    /// <summary>Device-pixel-ratio steps (rounded up to the next step). Default 1, 1.5, 2, 3.</summary>
    public double[]? Dprs { get; set; }

    /// <summary>Offer AVIF (to <c>format=auto</c> clients that accept it, and <c>format=avif</c>). Default true:
    /// the bundled libvips 8.18.7 encodes AVIF (AV1 through libheif/aom) on linux-x64.</summary>
    public bool Avif { get; set; } = true;

    /// <summary>Animated originals: <see cref="AnimatedImages.Keep"/> (default) or <see cref="AnimatedImages.Refuse"/>.</summary>
    public AnimatedImages Animated { get; set; } = AnimatedImages.Keep;

    /// <summary>Distinct variants a shield makes of one original (while its copy is the same); past it the
    /// original is served. Default 24.</summary>
    public int MaxVariantsPerOriginal { get; set; } = 24;

    /// <summary>Largest original transformed, in bytes. Default 25 MiB.</summary>
    public long MaxInputBytes { get; set; } = 25L * 1024 * 1024;

    /// <summary>Largest original transformed, in pixels (width x height x frames), read from its header
    /// before anything is decoded: the decompression-bomb limit. Default 50 million.</summary>
    public long MaxPixels { get; set; } = 50_000_000;

    /// <summary>Longest one transformation may take; past it the worker is killed and the original served. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether this tier makes variants: true, false, or null (default) for "on shields, not on edges".</summary>
    public bool? Produce { get; set; }

    public int[] EffectiveWidths => Widths is { Length: > 0 } w ? w : DefaultSteps;

    public int[] EffectiveHeights => Heights is { Length: > 0 } h ? h : DefaultSteps;

    public int[] EffectiveQualities => Qualities is { Length: > 0 } q ? q : DefaultQualities;

    public double[] EffectiveDprs => Dprs is { Length: > 0 } d ? d : DefaultDprs;

    /// <summary>The encoder's quality for a variant of <paramref name="quality"/> (a step of <see cref="EffectiveQualities"/>)
    /// in <paramref name="format"/>: scaled by the format's <c>*QualityScale</c>, 1-100. PNG and GIF take none.</summary>
    public int EncoderQuality(string format, int quality)
    {
        var scale = format switch
        {
            "jpeg" => JpegQualityScale,
            "webp" => WebpQualityScale,
            "avif" => AvifQualityScale,
            _ => 1.0,
        };
        return Math.Clamp((int)Math.Round(quality * scale, MidpointRounding.AwayFromZero), 1, 100);
    }

    /// <summary>Returns the first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (string.IsNullOrEmpty(PathPrefix) || PathPrefix.Length < 3 || PathPrefix[0] != '/' || PathPrefix[^1] != '/'
            || PathPrefix.AsSpan(1, PathPrefix.Length - 2).IndexOfAny(Reserved) >= 0)
        {
            return $"Images:PathPrefix must be one path segment between slashes, such as /_img/ (got '{PathPrefix}')";
        }

        if (Steps("Widths", Widths, 1, 8192) is { } w) return w;
        if (Steps("Heights", Heights, 1, 8192) is { } h) return h;
        if (Steps("Qualities", Qualities, 1, 100) is { } q) return q;
        if (DefaultQuality is < 1 or > 100) return $"Images:DefaultQuality must be 1-100 (got {DefaultQuality})";
        if (Scale("JpegQualityScale", JpegQualityScale) is { } js) return js;
        if (Scale("WebpQualityScale", WebpQualityScale) is { } ws) return ws;
        if (Scale("AvifQualityScale", AvifQualityScale) is { } avs) return avs;
        if (Dprs is { Length: 0 }) return "Images:Dprs must name at least one step";
        for (var i = 0; i < (Dprs?.Length ?? 0); i++)
        {
            var d = Dprs![i];
            if (!(d >= 0.5 && d <= 4)) return $"Images:Dprs entry {d.ToString(CultureInfo.InvariantCulture)} must be 0.5-4";
            if (i > 0 && d <= Dprs[i - 1]) return "Images:Dprs must be in increasing order";
        }

        if (!Enum.IsDefined(Animated)) return $"Images:Animated must be Keep or Refuse (got {Animated})";
        if (MaxVariantsPerOriginal < 1) return "Images:MaxVariantsPerOriginal must be at least 1";
        if (MaxInputBytes < 1) return "Images:MaxInputBytes must be positive";
        if (MaxPixels < 1) return "Images:MaxPixels must be positive";
        if (Timeout <= TimeSpan.Zero) return "Images:Timeout must be positive";
        return null;
    }

    private static string? Scale(string name, double scale) =>
        scale is > 0 and <= 2 ? null : $"Images:{name} must be above 0 and at most 2 (got {scale.ToString(CultureInfo.InvariantCulture)})";

    private static string? Steps(string name, int[]? steps, int min, int max)
    {
        if (steps is null) return null;
        if (steps.Length == 0) return $"Images:{name} must name at least one step";
        for (var i = 0; i < steps.Length; i++)
        {
            if (steps[i] < min || steps[i] > max) return $"Images:{name} entry {steps[i]} must be {min}-{max}";
            if (i > 0 && steps[i] <= steps[i - 1]) return $"Images:{name} must be in increasing order";
        }

        return null;
    }
}
