using System.Globalization;
using NetVips;

// EdgeCache.ImageCompare REFERENCE IMAGE...: for each IMAGE, one line "IMAGE FORMAT WIDTHxHEIGHT BYTES SSIM": the
// mean structural similarity (Wang et al. 2004: 11-tap Gaussian window, sigma 1.5, K1 0.01, K2 0.03) of its luma
// against REFERENCE's, both decoded by libvips. An image whose size differs from the reference's is compared
// after resizing it to the reference's size (and says so). Exit status 2 on bad usage, 1 if an image cannot be read.
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: EdgeCache.ImageCompare REFERENCE IMAGE...");
    return 2;
}

using var reference = Luma(args[0]);
var status = 0;
foreach (var path in args.Skip(1))
{
    try
    {
        using var loaded = Image.NewFromFile(path);
        var format = ((string)loaded.Get("vips-loader")).Replace("load", "", StringComparison.Ordinal);
        using var luma = Luma(path);
        var resized = luma.Width != reference.Width || luma.Height != reference.Height;
        using var same = resized ? luma.Resize((double)reference.Width / luma.Width, vscale: (double)reference.Height / luma.Height) : luma.Copy();
        var ssim = Ssim(reference, same);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path} {format} {loaded.Width}x{loaded.Height} {new FileInfo(path).Length} {ssim:F4}{(resized ? " (resized to the reference's size)" : "")}"));
    }
    catch (VipsException ex)
    {
        Console.Error.WriteLine($"{path}: {ex.Message.Split('\n')[0]}");
        status = 1;
    }
}

return status;

static Image Luma(string path)
{
    using var image = Image.NewFromFile(path);
    using var flat = image.HasAlpha() ? image.Flatten(background: [255.0]) : image.Copy();
    using var grey = flat.Colourspace(Enums.Interpretation.Bw);
    using var band = grey[0];
    return band.Cast(Enums.BandFormat.Double);
}

static double Ssim(Image x, Image y)
{
    const double C1 = 0.01 * 255 * 0.01 * 255;
    const double C2 = 0.03 * 255 * 0.03 * 255;
    using var mask = Image.Gaussmat(1.5, 0.003, separable: true, precision: Enums.Precision.Float);
    Image Blur(Image i) => i.Convsep(mask, precision: Enums.Precision.Float);
    using var xx = x * x;
    using var yy = y * y;
    using var xy = x * y;
    using var muX = Blur(x);
    using var muY = Blur(y);
    using var muXX = muX * muX;
    using var muYY = muY * muY;
    using var muXY = muX * muY;
    using var bxx = Blur(xx);
    using var byy = Blur(yy);
    using var bxy = Blur(xy);
    using var sigmaX = bxx - muXX;
    using var sigmaY = byy - muYY;
    using var sigmaXY = bxy - muXY;
    using var numerator = ((muXY * 2) + C1) * ((sigmaXY * 2) + C2);
    using var denominator = (muXX + muYY + C1) * (sigmaX + sigmaY + C2);
    using var map = numerator / denominator;

    // The window's edges see padding: leave 5 pixels out on each side, as the reference implementation does.
    using var inner = map.Crop(5, 5, map.Width - 10, map.Height - 10);
    return inner.Avg();
}
