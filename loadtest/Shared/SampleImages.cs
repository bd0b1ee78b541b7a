using NetVips;

namespace EdgeCache.LoadTesting;

/// <summary>
/// Real images made with libvips when an origin starts, for the image-variant walk-through and benchmark rows:
/// a photo-like JPEG (coloured Perlin noise at two scales over a gradient, with film grain: detail at every
/// scale, so a resize and an encoder have real work and SSIM means something), a PNG with transparency and an
/// animated GIF. Deterministic: the same bytes at every start. Shared by the sample and load origins.
/// </summary>
internal static class SampleImages
{
    /// <summary>A photo-like <paramref name="width"/> x <paramref name="height"/> JPEG, quality 90.</summary>
    public static byte[] PhotoJpeg(int width, int height)
    {
        using var photo = Photo(width, height);
        return photo.JpegsaveBuffer(q: 90, optimizeCoding: true);
    }

    /// <summary>A <paramref name="width"/> x <paramref name="height"/> RGBA PNG: the photo inside a soft-edged disc, transparent around it.</summary>
    public static byte[] DiscPng(int width, int height)
    {
        using var photo = Photo(width, height);
        using var xy = Image.Xyz(width, height);
        using var centred = xy - new double[] { width / 2.0, height / 2.0 };
        using var squared = centred * centred;
        using var distance = (squared[0] + squared[1]).Pow(0.5);
        var radius = Math.Min(width, height) * 0.45;
        using var alpha = ((radius - distance) * 8).Cast(Enums.BandFormat.Uchar);
        using var rgba = photo.Bandjoin(alpha);
        return rgba.PngsaveBuffer(compression: 6);
    }

    /// <summary>An animated GIF: <paramref name="frames"/> frames of a bar sweeping across a gradient, 100 ms each.</summary>
    public static byte[] SweepGif(int width, int height, int frames)
    {
        var pages = new Image[frames];
        using var xy = Image.Xyz(width, height);
        using var x = xy[0];
        for (var i = 0; i < frames; i++)
        {
            var at = (i + 0.5) * width / frames;
            using var bar = ((x - at).Abs() < width / (2.0 * frames)).Cast(Enums.BandFormat.Uchar);
            using var background = Image.Black(width, height, bands: 3) + new double[] { 30, 60 + (150.0 * i / frames), 140 };
            using var barColour = Image.Black(width, height, bands: 3) + new double[] { 250, 200, 40 };
            pages[i] = bar.Ifthenelse(barColour, background).Cast(Enums.BandFormat.Uchar);
        }

        using var strip = Image.Arrayjoin(pages, across: 1);
        using var tall = strip.Mutate(m =>
        {
            m.Set(GValue.GIntType, "page-height", height);
            m.Set(GValue.ArrayIntType, "delay", Enumerable.Repeat(100, frames).ToArray());
        });
        foreach (var p in pages) p.Dispose();
        return tall.GifsaveBuffer();
    }

    private static Image Photo(int width, int height)
    {
        var bands = new Image[3];
        double[] levels = [120, 110, 90];
        for (var b = 0; b < 3; b++)
        {
            using var coarse = Image.Perlin(width, height, cellSize: Math.Max(16, width / 6), seed: 11 + b);
            using var fine = Image.Perlin(width, height, cellSize: 24, seed: 101 + b);
            using var grain = Image.Gaussnoise(width, height, sigma: 5, mean: 0, seed: 201 + b);
            using var xy = Image.Xyz(width, height);
            using var gradient = (xy[b % 2] * (60.0 / (b % 2 == 0 ? width : height))) - 30;
            using var sum = (coarse * 90) + (fine * 28) + grain + gradient + levels[b];
            bands[b] = sum.Cast(Enums.BandFormat.Uchar);
        }

        var rgb = bands[0].Bandjoin(bands[1], bands[2]).Copy(interpretation: Enums.Interpretation.Srgb);
        foreach (var band in bands) band.Dispose();
        return rgb;
    }
}
