using System.Buffers;
using EdgeCache.Engine;
using NetVips;

namespace EdgeCache.ImageWorker;

/// <summary>
/// One transformation with libvips: the header is read first and an original over the pixel limit is
/// refused before a pixel is decoded; then shrink-on-load (<c>thumbnail</c>), orientation applied, colour
/// converted to sRGB, and the result encoded with no metadata kept (EXIF, XMP, ICC: <c>keep=none</c>).
/// The node has already sniffed the bytes: only JPEG, PNG, GIF, WebP and AVIF get here, never SVG.
/// </summary>
internal static class Transformer
{
    /// <summary>"Unbounded" for thumbnail's box (libvips takes the other dimension as the bound).</summary>
    private const int Unbounded = 10_000_000;

    private static int _webpEffort = 2;
    private static int _avifEffort = 2;

    /// <summary>Sets libvips up for one job at a time: <paramref name="threads"/> threads in its pool (the shield's
    /// <c>EdgeCache:ImageWorkers:Threads</c>, default 1: the JPEG decode and the WebP encode that make up most of a
    /// variant run on one thread whatever the pool, so on a node that runs one worker per core more threads only
    /// add hand-offs), the WebP and AVIF encoders' efforts (<c>:WebpEffort</c>, <c>:AvifEffort</c>), no loader libvips
    /// marks untrusted (ImageMagick, MATLAB, FITS...), nothing cached between jobs.</summary>
    public static void Initialise(int threads, int webpEffort, int avifEffort)
    {
        _webpEffort = webpEffort;
        _avifEffort = avifEffort;
        NetVips.NetVips.Concurrency = threads;
        NetVips.NetVips.BlockUntrusted = true;
        Cache.Max = 0;
        Cache.MaxMem = 0;
        Cache.MaxFiles = 0;
    }

    /// <summary>Makes one small WebP and one small JPEG variant before the first job, so that loading the codecs and
    /// the first-use costs of this code are the worker's start-up, not a job's time.</summary>
    public static void WarmUp()
    {
        using var black = Image.Black(32, 32, bands: 3);
        using var u8 = black.Cast(Enums.BandFormat.Uchar);
        var jpeg = new System.Buffers.ReadOnlySequence<byte>(u8.JpegsaveBuffer());
        foreach (var format in new[] { "webp", "jpeg" })
        {
            Run(new ImageJob(16, 0, ImageFit.ScaleDown, 80, format, false, 1_000_000, jpeg));
        }
    }

    public static ImageJobResult Run(ImageJob job)
    {
        var input = job.Input.IsSingleSegment && System.Runtime.InteropServices.MemoryMarshal.TryGetArray(job.Input.First, out var seg) && seg.Offset == 0 && seg.Count == seg.Array!.Length
            ? seg.Array
            : job.Input.ToArray();
        try
        {
            int pages;
            bool profiled;
            var shrink = 1;
            using (var header = Image.NewFromBuffer(input))
            {
                pages = header.Contains("n-pages") ? Math.Max(1, (int)header.Get("n-pages")) : 1;
                profiled = header.Contains("icc-profile-data");
                var frames = job.KeepAnimation ? pages : 1;
                if ((long)header.Width * header.Height * frames > job.MaxPixels || (long)header.Width * header.Height > job.MaxPixels)
                {
                    return Refused("pixel-limit");
                }

                if (((string)header.Get("vips-loader")).StartsWith("jpegload", StringComparison.Ordinal)) shrink = JpegShrink(header, job);
            }

            var animated = job.KeepAnimation && pages > 1;
            var box = job.Fit == ImageFit.Cover && job.Width > 0 && job.Height > 0;
            // fail_on goes to the loader (in the option string, or jpegload's own argument): thumbnail's failOn argument
            // does not reach the shrink-on-load read, which then pads a truncated JPEG with grey and resizes it. With
            // it, libvips stops at the premature end (the error surfaces in the encode that pulls the pixels): refused.
            var size = job.Fit == ImageFit.Contain ? Enums.Size.Both : job.Fit == ImageFit.Cover ? Enums.Size.Both : Enums.Size.Down;
            var crop = box ? Enums.Interesting.Centre : (Enums.Interesting?)null;

            // Only an embedded profile needs the ICC transform: without one libvips converts from its default sRGB
            // to sRGB, close to half the work of a variant (measured at one thread, a 2000x1500 photo to a 400 px
            // WebP: 40 ms with it, 23 ms without). Other colour spaces are converted below either way.
            var outputProfile = profiled ? "srgb" : null;
            using var thumb = shrink > 1
                ? ThumbnailShrunk(input, shrink, job, size, crop, outputProfile)
                : Image.ThumbnailBuffer(
                    input,
                    job.Width > 0 ? job.Width : Unbounded,
                    optionString: animated ? "n=-1,fail_on=truncated" : "fail_on=truncated",
                    height: job.Height > 0 ? job.Height : Unbounded,
                    size: size,
                    crop: crop,
                    outputProfile: outputProfile);
            using var srgb = thumb.Interpretation is Enums.Interpretation.Srgb or Enums.Interpretation.Bw or Enums.Interpretation.Grey16 or Enums.Interpretation.Rgb16
                ? thumb.Copy()
                : thumb.Colourspace(Enums.Interpretation.Srgb);
            var bytes = job.Format switch
            {
                // job.Quality is the encoder's own quality, the node's scaling of the request's (Images:*QualityScale).
                // JPEG: Huffman tables optimised, libvips' standard quantisation tables; mozjpeg's trellis
                // quantisation (in this libvips) was measured to cost SSIM per byte on photos and 3-4x the encode time.
                "jpeg" => srgb.JpegsaveBuffer(q: job.Quality, keep: Enums.ForeignKeep.None, optimizeCoding: true),
                "png" => srgb.PngsaveBuffer(compression: 6, keep: Enums.ForeignKeep.None),
                "webp" => srgb.WebpsaveBuffer(q: job.Quality, effort: _webpEffort, keep: Enums.ForeignKeep.None),
                "avif" => srgb.HeifsaveBuffer(q: job.Quality, effort: _avifEffort, compression: Enums.ForeignHeifCompression.Av1, keep: Enums.ForeignKeep.None),
                "gif" => srgb.GifsaveBuffer(keep: Enums.ForeignKeep.None),
                _ => throw new InvalidOperationException("unknown format"),
            };
            var height = animated && srgb.Contains("page-height") ? (int)srgb.Get("page-height") : srgb.Height;
            return new ImageJobResult(true, null, srgb.Width, height, bytes);
        }
        catch (VipsException ex)
        {
            Console.Error.WriteLine("vips: " + FirstLine(ex.Message));

            // An allocation past the worker's memory limit (MemoryLimit) is libvips' "out of memory" error.
            return Refused(ex.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) ? "memory" : "decode");
        }
    }

    /// <summary>
    /// The JPEG decoder's shrink-on-load factor (1, 2, 4 or 8: libjpeg's scaled IDCT) for <paramref name="job"/>: the
    /// largest that still decodes at least 1.2 times the target in each bounded dimension, so that the Lanczos
    /// resize after it has something to filter. libvips' thumbnail alone leaves a factor of 2 or more to the resize
    /// and so decodes a 2000x1500 photo at 1000x750 for a 400 px variant; at 1/4 (500x375) the decode costs about 3 ms
    /// less of some 20 ms, for an SSIM 0.001-0.002 lower against a Lanczos resize of the full image (the image rows
    /// of loadtest/bench.sh). Orientation 5-8 swaps the dimensions the target applies to.
    /// </summary>
    internal static int JpegShrink(Image header, ImageJob job)
    {
        var rotated = header.Contains("orientation") && (int)header.Get("orientation") >= 5;
        double w = rotated ? header.Height : header.Width, h = rotated ? header.Width : header.Height;
        var sx = job.Width > 0 ? w / job.Width : double.NaN;
        var sy = job.Height > 0 ? h / job.Height : double.NaN;
        // The factor the resize must reach: the smaller reduction where both dimensions must cover the box (cover),
        // else the larger one (the image fits inside the box).
        var factor = double.IsNaN(sx) ? sy : double.IsNaN(sy) ? sx : job.Fit == ImageFit.Cover ? Math.Min(sx, sy) : Math.Max(sx, sy);
        if (double.IsNaN(factor)) return 1;
        foreach (var shrink in (ReadOnlySpan<int>)[8, 4, 2])
        {
            if (factor >= shrink * 1.2) return shrink;
        }

        return 1;
    }

    /// <summary>A JPEG decoded at 1/<paramref name="shrink"/> scale, then thumbnail's resize, orientation and colour.</summary>
    private static Image ThumbnailShrunk(byte[] input, int shrink, ImageJob job, Enums.Size size, Enums.Interesting? crop, string? outputProfile)
    {
        using var decoded = Image.JpegloadBuffer(input, shrink: shrink, failOn: Enums.FailOn.Truncated, access: Enums.Access.Sequential);
        return decoded.ThumbnailImage(
            job.Width > 0 ? job.Width : Unbounded,
            height: job.Height > 0 ? job.Height : Unbounded,
            size: size,
            crop: crop,
            outputProfile: outputProfile);
    }

    private static ImageJobResult Refused(string reason) => new(false, reason, 0, 0, []);

    private static string FirstLine(string text) => text.Split('\n', 2)[0];
}
