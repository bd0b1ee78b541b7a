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

    public static void Initialise()
    {
        // Loaders libvips marks untrusted (ImageMagick, MATLAB, FITS...) are never used; one job, one thread
        // pool the size of the machine is fine, but nothing is cached between jobs.
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
            using (var header = Image.NewFromBuffer(input))
            {
                pages = header.Contains("n-pages") ? Math.Max(1, (int)header.Get("n-pages")) : 1;
                profiled = header.Contains("icc-profile-data");
                var frames = job.KeepAnimation ? pages : 1;
                if ((long)header.Width * header.Height * frames > job.MaxPixels || (long)header.Width * header.Height > job.MaxPixels)
                {
                    return Refused("pixel-limit");
                }
            }

            var animated = job.KeepAnimation && pages > 1;
            var box = job.Fit == ImageFit.Cover && job.Width > 0 && job.Height > 0;
            // fail_on goes to the loader in the option string: thumbnail's own failOn argument does not reach the
            // shrink-on-load read, which then pads a truncated JPEG with grey and resizes it. With it, libvips
            // stops at the premature end (the error surfaces in the encode that pulls the pixels): refused.
            using var thumb = Image.ThumbnailBuffer(
                input,
                job.Width > 0 ? job.Width : Unbounded,
                optionString: animated ? "n=-1,fail_on=truncated" : "fail_on=truncated",
                height: job.Height > 0 ? job.Height : Unbounded,
                size: job.Fit == ImageFit.Contain ? Enums.Size.Both : job.Fit == ImageFit.Cover ? Enums.Size.Both : Enums.Size.Down,
                crop: box ? Enums.Interesting.Centre : null,
                // Only an embedded profile needs the ICC transform: without one libvips converts from its default sRGB
                // to sRGB, close to half the work of a variant (measured at one thread, a 2000x1500 photo to a 400 px
                // WebP: 40 ms with it, 23 ms without). Other colour spaces are converted below either way.
                outputProfile: profiled ? "srgb" : null);
            using var srgb = thumb.Interpretation is Enums.Interpretation.Srgb or Enums.Interpretation.Bw or Enums.Interpretation.Grey16 or Enums.Interpretation.Rgb16
                ? thumb.Copy()
                : thumb.Colourspace(Enums.Interpretation.Srgb);
            var bytes = job.Format switch
            {
                "jpeg" => srgb.JpegsaveBuffer(q: job.Quality, keep: Enums.ForeignKeep.None, optimizeCoding: true),
                "png" => srgb.PngsaveBuffer(compression: 6, keep: Enums.ForeignKeep.None),
                "webp" => srgb.WebpsaveBuffer(q: job.Quality, effort: 2, keep: Enums.ForeignKeep.None),
                "avif" => srgb.HeifsaveBuffer(q: AvifQuality(job.Quality), effort: 2, compression: Enums.ForeignHeifCompression.Av1, keep: Enums.ForeignKeep.None),
                "gif" => srgb.GifsaveBuffer(keep: Enums.ForeignKeep.None),
                _ => throw new InvalidOperationException("unknown format"),
            };
            var height = animated && srgb.Contains("page-height") ? (int)srgb.Get("page-height") : srgb.Height;
            return new ImageJobResult(true, null, srgb.Width, height, bytes);
        }
        catch (VipsException ex)
        {
            Console.Error.WriteLine("vips: " + FirstLine(ex.Message));
            return Refused("decode");
        }
    }

    /// <summary>AVIF's quantiser reads lower than JPEG's and WebP's for the same look: q 80 there is about 60 here.</summary>
    private static int AvifQuality(int quality) => Math.Clamp((int)Math.Round(quality * 0.75), 1, 100);

    private static ImageJobResult Refused(string reason) => new(false, reason, 0, 0, []);

    private static string FirstLine(string text) => text.Split('\n', 2)[0];
}
