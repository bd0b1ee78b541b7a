using System.Globalization;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Engine;

/// <summary>How a variant fits the box its width and height make.</summary>
public enum ImageFit
{
    /// <summary>Inside the box, never enlarged (the default).</summary>
    ScaleDown,

    /// <summary>Inside the box, enlarged when smaller.</summary>
    Contain,

    /// <summary>Fills the box, the centre kept, the rest cropped.</summary>
    Cover,
}

/// <summary>What a request path under a host's image prefix says.</summary>
public enum ImageParse
{
    /// <summary>Not under the prefix: the origin's own URL, keyed and passed as any other.</summary>
    NotImage,

    /// <summary>A valid image request (<see cref="ImageRequest"/>).</summary>
    Image,

    /// <summary>Under the prefix, but an option or its value is not valid: a 400.</summary>
    Invalid,
}

/// <summary>
/// A request for an image variant, <c>{prefix}{options}/{original path}</c> (Cloudflare's URL style):
/// options are <c>name=value</c> pairs separated by commas, each quantised to the host's steps
/// (<see cref="ImagePolicy"/>); the <see cref="CanonicalPathAndQuery"/> names them in one order with
/// defaults left out, so every spelling of one variant is one cache key. Anything after the options
/// (path and query) is the original's URL, untouched.
/// </summary>
public sealed class ImageRequest
{
    /// <summary>The formats a request may name.</summary>
    public static readonly string[] Formats = ["auto", "avif", "webp", "jpeg", "png"];

    /// <summary>Accept as rewritten for a <c>format=auto</c> request: one of three values, whatever the client sent.</summary>
    public const string AcceptAvif = "image/avif";

    public const string AcceptWebp = "image/webp";

    public const string AcceptAny = "*/*";

    /// <summary>Width in CSS pixels, quantised; null when not asked (the original's, or what height gives).</summary>
    public int? Width { get; private init; }

    public int? Height { get; private init; }

    public ImageFit Fit { get; private init; }

    public int Quality { get; private init; }

    /// <summary><c>auto</c>, <c>avif</c>, <c>webp</c>, <c>jpeg</c>, <c>png</c>, or null: the original's format.</summary>
    public string? Format { get; private init; }

    public double Dpr { get; private init; } = 1;

    /// <summary>True when the format is chosen by the request's Accept (the response carries <c>Vary: Accept</c>).</summary>
    public bool Auto => Format == "auto";

    /// <summary>The original's path and query (what the origin is asked for).</summary>
    public required string OriginalPathAndQuery { get; init; }

    /// <summary>The options in canonical form (<c>width=400,format=auto</c>).</summary>
    public required string Options { get; init; }

    /// <summary>The variant's path and query in canonical form: its cache key's.</summary>
    public required string CanonicalPathAndQuery { get; init; }

    /// <summary>The output width in device pixels (<see cref="Width"/> x <see cref="Dpr"/>), or null.</summary>
    public int? PixelWidth => Width is { } w ? Math.Max(1, (int)Math.Round(w * Dpr, MidpointRounding.AwayFromZero)) : null;

    public int? PixelHeight => Height is { } h ? Math.Max(1, (int)Math.Round(h * Dpr, MidpointRounding.AwayFromZero)) : null;

    /// <summary>
    /// Reads <paramref name="pathAndQuery"/> (origin-form, as received) against the host's policy:
    /// <see cref="ImageParse.NotImage"/> when it is not under the prefix; <see cref="ImageParse.Invalid"/>
    /// with <paramref name="error"/> saying what is wrong (an unknown option, a repeated one, a value out of range).
    /// </summary>
    public static ImageParse TryParse(string pathAndQuery, ImagePolicy policy, out ImageRequest? request, out string? error)
    {
        request = null;
        error = null;
        var prefix = policy.PathPrefix;
        if (!pathAndQuery.StartsWith(prefix, StringComparison.Ordinal)) return ImageParse.NotImage;
        var rest = pathAndQuery.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        var query = rest.IndexOf('?');
        if (slash < 0 || (query >= 0 && query < slash))
        {
            error = $"an image URL is {prefix}{{options}}/{{path of the original}}, such as {prefix}width=400,format=auto/photos/cat.jpg";
            return ImageParse.Invalid;
        }

        var options = rest[..slash];
        var original = rest[slash..].ToString();
        if (original.Length < 2 || original[1] == '?')
        {
            error = "the image URL names no original after its options";
            return ImageParse.Invalid;
        }

        if (original.StartsWith(prefix, StringComparison.Ordinal))
        {
            error = "an image URL's original may not be another image URL";
            return ImageParse.Invalid;
        }

        int? width = null, height = null, quality = null;
        ImageFit? fit = null;
        string? format = null;
        double? dpr = null;
        if (options.IsEmpty)
        {
            error = "the image URL names no options";
            return ImageParse.Invalid;
        }

        foreach (var range in options.Split(','))
        {
            var pair = options[range];
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                error = $"image option '{Shown(pair)}' is not name=value";
                return ImageParse.Invalid;
            }

            var name = pair[..eq];
            var value = pair[(eq + 1)..];
            switch (name)
            {
                case "width" when width is null:
                    if (!Dimension(value, out var w)) return Bad(out error, "width", value, "a whole number of pixels, 1-10000");
                    width = Quantise(w, policy.EffectiveWidths);
                    break;
                case "height" when height is null:
                    if (!Dimension(value, out var h)) return Bad(out error, "height", value, "a whole number of pixels, 1-10000");
                    height = Quantise(h, policy.EffectiveHeights);
                    break;
                case "fit" when fit is null:
                    fit = value switch
                    {
                        "scale-down" => ImageFit.ScaleDown,
                        "contain" => ImageFit.Contain,
                        "cover" => ImageFit.Cover,
                        _ => null,
                    };
                    if (fit is null) return Bad(out error, "fit", value, "contain, cover or scale-down");
                    break;
                case "quality" when quality is null:
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var q) || q is < 1 or > 100) return Bad(out error, "quality", value, "a whole number, 1-100");
                    quality = Nearest(q, policy.EffectiveQualities);
                    break;
                case "format" when format is null:
                    foreach (var f in Formats)
                    {
                        if (value.SequenceEqual(f)) format = f;
                    }

                    if (format is null) return Bad(out error, "format", value, "auto, avif, webp, jpeg or png");
                    if (format == "avif" && !policy.Avif) return Bad(out error, "format", value, "auto, webp, jpeg or png (AVIF is off for this host)");
                    break;
                case "dpr" when dpr is null:
                    if (!double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d) || !(d > 0 && d <= 10)) return Bad(out error, "dpr", value, "a number above 0, up to 10");
                    dpr = QuantiseUp(d, policy.EffectiveDprs);
                    break;
                case "width" or "height" or "fit" or "quality" or "format" or "dpr":
                    error = $"image option '{name}' is given twice";
                    return ImageParse.Invalid;
                default:
                    error = $"'{Shown(name)}' is not an image option (width, height, fit, quality, format, dpr)";
                    return ImageParse.Invalid;
            }
        }

        var defaultQuality = Nearest(policy.DefaultQuality, policy.EffectiveQualities);
        var canonical = new StringBuilder(48);
        void Add(string text)
        {
            if (canonical.Length > 0) canonical.Append(',');
            canonical.Append(text);
        }

        if (width is { } cw) Add("width=" + cw.ToString(CultureInfo.InvariantCulture));
        if (height is { } ch) Add("height=" + ch.ToString(CultureInfo.InvariantCulture));
        if (fit is { } cf && cf != ImageFit.ScaleDown) Add(cf == ImageFit.Cover ? "fit=cover" : "fit=contain");
        if (quality is { } cq && cq != defaultQuality) Add("quality=" + cq.ToString(CultureInfo.InvariantCulture));
        if (format is not null) Add("format=" + format);
        if (dpr is { } cd && cd != 1 && (width is not null || height is not null)) Add("dpr=" + cd.ToString(CultureInfo.InvariantCulture));
        if (canonical.Length == 0) Add("quality=" + defaultQuality.ToString(CultureInfo.InvariantCulture));
        var text = canonical.ToString();
        request = new ImageRequest
        {
            Width = width,
            Height = height,
            Fit = fit ?? ImageFit.ScaleDown,
            Quality = quality ?? defaultQuality,
            Format = format,
            Dpr = width is null && height is null ? 1 : dpr ?? 1,
            OriginalPathAndQuery = original,
            Options = text,
            CanonicalPathAndQuery = prefix + text + original,
        };
        return ImageParse.Image;
    }

    /// <summary>
    /// The one value a <c>format=auto</c> request's Accept is rewritten to: <see cref="AcceptAvif"/> when it
    /// names <c>image/avif</c> (and AVIF is offered), else <see cref="AcceptWebp"/> when it names
    /// <c>image/webp</c>, else <see cref="AcceptAny"/> (the original's format). A member with <c>q=0</c>
    /// refuses its type; wildcards (<c>image/*</c>, <c>*/*</c>) choose neither, as browsers that decode
    /// these formats name them.
    /// </summary>
    public static string NegotiateAccept(StringValues accept, bool avif)
    {
        bool hasAvif = false, hasWebp = false;
        foreach (var line in accept)
        {
            if (line is not null) Scan(line, ref hasAvif, ref hasWebp);
        }

        return avif && hasAvif ? AcceptAvif : hasWebp ? AcceptWebp : AcceptAny;
    }

    /// <summary>As <see cref="NegotiateAccept(StringValues, bool)"/>, for an Accept sent as one line (the fast
    /// hit path reads it from the request's bytes), without allocating.</summary>
    public static string NegotiateAccept(ReadOnlySpan<char> accept, bool avif)
    {
        bool hasAvif = false, hasWebp = false;
        Scan(accept, ref hasAvif, ref hasWebp);
        return avif && hasAvif ? AcceptAvif : hasWebp ? AcceptWebp : AcceptAny;
    }

    /// <summary>Whether one line of Accept names (and does not refuse) AVIF and WebP; a later member naming a type overrides an earlier one.</summary>
    private static void Scan(ReadOnlySpan<char> line, ref bool hasAvif, ref bool hasWebp)
    {
        foreach (var range in line.Split(','))
        {
            var member = line[range];
            var semi = member.IndexOf(';');
            var type = (semi < 0 ? member : member[..semi]).Trim();
            var refused = semi >= 0 && RefusedByQ(member[(semi + 1)..]);
            if (type.Equals("image/avif", StringComparison.OrdinalIgnoreCase)) hasAvif = !refused;
            else if (type.Equals("image/webp", StringComparison.OrdinalIgnoreCase)) hasWebp = !refused;
        }
    }

    /// <summary>The format a negotiated Accept value (<see cref="NegotiateAccept"/>) chooses: avif, webp, or null for the original's.</summary>
    public static string? Chosen(string? negotiated) => negotiated switch
    {
        AcceptAvif => "avif",
        AcceptWebp => "webp",
        _ => null,
    };

    /// <summary>
    /// The format a variant is made in, from an original in <paramref name="source"/> (a sniffed
    /// <see cref="ImageFormats"/> name): the one asked for, the one Accept chose for auto
    /// (<paramref name="autoChoice"/>, null: the original's), or the original's. Animated originals keep
    /// their animation in WebP or GIF only; null with <paramref name="refusal"/> when nothing may be made.
    /// </summary>
    public string? TargetFormat(string source, bool animated, string? autoChoice, ImagePolicy policy, out string? refusal)
    {
        refusal = null;
        var target = Format switch
        {
            "auto" => autoChoice ?? source,
            null => source,
            _ => Format,
        };
        if (target == "avif" && !policy.Avif) target = source == "avif" ? "webp" : source;
        if (!animated) return target;
        if (policy.Animated == AnimatedImages.Refuse)
        {
            refusal = "animated";
            return null;
        }

        // Animation survives in WebP and GIF. Auto's AVIF is the original's format instead; an explicit
        // still format cannot hold it.
        if (Format == "auto" && target == "avif") return source;
        if (target is "webp" or "gif") return target;
        refusal = "animated-format";
        return null;
    }

    /// <summary>A suffix for the variant's entity-tag (RFC 9110 §8.8.3: another representation needs another
    /// tag): the canonical options and the format made, hashed.</summary>
    public string ETagSuffix(string target)
    {
        var hash = System.IO.Hashing.XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(Options + "|" + target));
        return "img" + hash.ToString("x8", CultureInfo.InvariantCulture);
    }

    private static bool RefusedByQ(ReadOnlySpan<char> parameters)
    {
        foreach (var range in parameters.Split(';'))
        {
            var p = parameters[range].Trim();
            if (p.Length < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
            return double.TryParse(p[2..], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var q) && q <= 0;
        }

        return false;
    }

    private static bool Dimension(ReadOnlySpan<char> value, out int pixels) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out pixels) && pixels is >= 1 and <= 10000;

    /// <summary>The first step at or above <paramref name="value"/>, else the last.</summary>
    internal static int Quantise(int value, int[] steps)
    {
        foreach (var s in steps)
        {
            if (s >= value) return s;
        }

        return steps[^1];
    }

    internal static double QuantiseUp(double value, double[] steps)
    {
        foreach (var s in steps)
        {
            if (s >= value) return s;
        }

        return steps[^1];
    }

    /// <summary>The nearest step (a tie goes to the higher).</summary>
    internal static int Nearest(int value, int[] steps)
    {
        var best = steps[0];
        foreach (var s in steps)
        {
            if (Math.Abs(s - value) <= Math.Abs(best - value)) best = s;
        }

        return best;
    }

    private static ImageParse Bad(out string error, string name, ReadOnlySpan<char> value, string expected)
    {
        error = $"image option {name}='{Shown(value)}' is not valid: expected {expected}";
        return ImageParse.Invalid;
    }

    /// <summary>A client's text as it may appear in an error: short and visible ASCII only.</summary>
    private static string Shown(ReadOnlySpan<char> text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, 40));
        foreach (var c in text[..Math.Min(text.Length, 40)]) sb.Append(c is >= '!' and <= '~' ? c : '?');
        return sb.ToString();
    }
}
