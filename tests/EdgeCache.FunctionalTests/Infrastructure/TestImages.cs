using NetVips;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>Real images made with libvips when a test first needs them, and decoding of what the CDN sent.</summary>
public static class TestImages
{
    private static readonly Lazy<byte[]> LazyJpeg = new(() => Jpeg(800, 600));

    /// <summary>An 800x600 JPEG (a colour gradient, so resizing has work to do).</summary>
    public static byte[] Photo => LazyJpeg.Value;

    private static readonly Lazy<byte[]> LazyLarge = new(() => NoisyJpeg(1200, 900));

    /// <summary>A 1200x900 JPEG with per-pixel noise (as photo grain), several hundred kilobytes: larger than a
    /// small memory tier's per-object limit.</summary>
    public static byte[] Large => LazyLarge.Value;

    public static byte[] NoisyJpeg(int width, int height)
    {
        using var image = Gradient(width, height);
        using var noise = Image.Gaussnoise(width, height, sigma: 40);
        using var grain = image + noise;
        using var clipped = grain.Cast(Enums.BandFormat.Uchar);
        return clipped.JpegsaveBuffer(q: 90);
    }

    public static byte[] Jpeg(int width, int height)
    {
        using var image = Gradient(width, height);
        return image.JpegsaveBuffer(q: 90);
    }

    /// <summary>A JPEG stored sideways with EXIF orientation 6 (display rotated 90 degrees clockwise) and an EXIF
    /// description, as cameras write them.</summary>
    public static byte[] SidewaysJpeg(int width, int height)
    {
        using var image = Gradient(width, height);
        using var tagged = image.Mutate(m =>
        {
            m.Set(GValue.GIntType, "orientation", 6);
            m.Set(GValue.GStrType, "exif-ifd0-ImageDescription", "secret camera notes");
        });
        return tagged.JpegsaveBuffer(q: 90);
    }

    public static byte[] Png(int width, int height)
    {
        using var image = Gradient(width, height);
        return image.PngsaveBuffer();
    }

    /// <summary>A 64x64 JPEG of pure sRGB red converted to Display P3 with the P3 profile embedded, as phone cameras
    /// write them: its pixel values are P3's (about 234, 51, 35), and only a reader that applies the profile sees red.</summary>
    public static byte[] RedInDisplayP3()
    {
        using var black = Image.Black(64, 64, bands: 3);
        using var red = black + new double[] { 255, 0, 0 };
        using var u8 = red.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        using var p3 = u8.IccTransform("p3", inputProfile: "srgb", embedded: false);
        using var tagged = p3.Cast(Enums.BandFormat.Uchar);
        return tagged.JpegsaveBuffer(q: 95);
    }

    /// <summary>The mean of each band of a decoded image, and whether it carries an ICC profile.</summary>
    public static (double[] Means, bool HasProfile) Colour(byte[] body)
    {
        using var image = Image.NewFromBuffer(body);
        var means = new double[image.Bands];
        for (var b = 0; b < image.Bands; b++)
        {
            using var band = image[b];
            means[b] = band.Avg();
        }

        return (means, image.Contains("icc-profile-data"));
    }

    /// <summary>A large PNG made fast (zlib level 1): libvips cannot shrink a PNG while decoding it, so every one of
    /// its pixels is decoded for any variant, which takes real time.</summary>
    public static byte[] LargePng(int width, int height)
    {
        using var image = Gradient(width, height);
        return image.PngsaveBuffer(compression: 1);
    }

    /// <summary>An interlaced (Adam7) PNG: libvips decodes an interlaced PNG into one buffer of all its pixels
    /// (3 bytes each here) whatever size is asked for, so its memory need is known.</summary>
    public static byte[] InterlacedPng(int width, int height)
    {
        using var image = Gradient(width, height);
        return image.PngsaveBuffer(compression: 6, interlace: true);
    }

    /// <summary>An animated GIF of <paramref name="frames"/> frames of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static byte[] AnimatedGif(int width, int height, int frames)
    {
        var pages = new Image[frames];
        for (var i = 0; i < frames; i++) pages[i] = Image.Black(width, height, bands: 3) + new double[] { 40 * i, 255 - (40 * i), 128 };
        using var strip = Image.Arrayjoin(pages, across: 1);
        using var tall = strip.Cast(Enums.BandFormat.Uchar).Mutate(m =>
        {
            m.Set(GValue.GIntType, "page-height", height);
            m.Set(GValue.ArrayIntType, "delay", Enumerable.Repeat(100, frames).ToArray());
        });
        foreach (var p in pages) p.Dispose();
        return tall.GifsaveBuffer();
    }

    /// <summary>A decompression bomb for a 4-million-pixel limit: 3000 x 3000 black pixels in a few kilobytes of PNG.</summary>
    public static byte[] Bomb()
    {
        using var black = Image.Black(3000, 3000);
        using var u8 = black.Cast(Enums.BandFormat.Uchar);
        return u8.PngsaveBuffer(compression: 9);
    }

    public static readonly byte[] Svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"600\"><rect width=\"800\" height=\"600\" fill=\"red\"/></svg>"u8.ToArray();

    /// <summary>What a body decodes to: format (the libvips loader's name), width, height of one frame, frames.</summary>
    public static (string Format, int Width, int Height, int Frames) Decode(byte[] body)
    {
        string loader;
        using (var header = Image.NewFromBuffer(body)) loader = (string)header.Get("vips-loader");
        using var image = loader is "gifload_buffer" or "webpload_buffer" ? Image.NewFromBuffer(body, "n=-1") : Image.NewFromBuffer(body);
        var frames = image.Contains("n-pages") ? (int)image.Get("n-pages") : 1;
        var pageHeight = frames > 1 && image.Contains("page-height") ? (int)image.Get("page-height") : image.Height;
        var format = loader switch
        {
            "jpegload_buffer" => "jpeg",
            "pngload_buffer" => "png",
            "webpload_buffer" => "webp",
            "gifload_buffer" => "gif",
            "heifload_buffer" => "avif",
            _ => loader,
        };
        return (format, image.Width, pageHeight, frames);
    }

    /// <summary>True when the decoded image carries EXIF or XMP metadata.</summary>
    public static bool HasMetadata(byte[] body)
    {
        using var image = Image.NewFromBuffer(body);
        return image.Contains("exif-data") || image.Contains("xmp-data");
    }

    private static Image Gradient(int width, int height)
    {
        using var xy = Image.Xyz(width, height);
        using var x = xy[0] * (255.0 / width);
        using var y = xy[1] * (255.0 / height);
        using var z = (x + y) / 2;
        using var rgb = x.Bandjoin(y, z);
        return rgb.Cast(Enums.BandFormat.Uchar);
    }
}
