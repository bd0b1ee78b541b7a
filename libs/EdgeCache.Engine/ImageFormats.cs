using System.Buffers;
namespace EdgeCache.Engine;

/// <summary>
/// The image formats variants are made from and in, told by their bytes, never by the Content-Type an
/// origin claims: the node sniffs an original before any decoder sees it, so an SVG (or a script, or a
/// page) labelled <c>image/jpeg</c> never reaches libvips, and SVG is never rasterised.
/// </summary>
public static class ImageFormats
{
    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The raster formats decoded: jpeg, png, gif, webp, avif.</summary>
    public static bool IsRaster(string? format) => format is "jpeg" or "png" or "gif" or "webp" or "avif";

    /// <summary>The format <paramref name="head"/> (an original's first bytes, 32 are enough) is in:
    /// jpeg, png, gif, webp, avif, svg (text that starts with an XML declaration or an svg element), or null.</summary>
    public static string? Sniff(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return "jpeg";
        if (head.StartsWith(PngSignature)) return "png";
        if (head.StartsWith("GIF87a"u8) || head.StartsWith("GIF89a"u8)) return "gif";
        if (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8)) return "webp";
        if (head.Length >= 12 && head[4..8].SequenceEqual("ftyp"u8) && (head[8..12].SequenceEqual("avif"u8) || head[8..12].SequenceEqual("avis"u8))) return "avif";
        var text = head;
        if (text.StartsWith(Bom)) text = text[3..];
        while (text.Length > 0 && text[0] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') text = text[1..];
        if (text.StartsWith("<svg"u8) || text.StartsWith("<?xml"u8) || text.StartsWith("<!DOCTYPE svg"u8)) return "svg";
        return null;
    }

    /// <summary>The format a Content-Type names (parameters ignored), or null for any other type.</summary>
    public static string? OfContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType)) return null;
        var media = contentType.AsSpan();
        if (media.IndexOf(';') is >= 0 and var semi) media = media[..semi];
        media = media.Trim();
        if (media.Equals("image/jpeg", StringComparison.OrdinalIgnoreCase) || media.Equals("image/jpg", StringComparison.OrdinalIgnoreCase) || media.Equals("image/pjpeg", StringComparison.OrdinalIgnoreCase)) return "jpeg";
        if (media.Equals("image/png", StringComparison.OrdinalIgnoreCase)) return "png";
        if (media.Equals("image/gif", StringComparison.OrdinalIgnoreCase)) return "gif";
        if (media.Equals("image/webp", StringComparison.OrdinalIgnoreCase)) return "webp";
        if (media.Equals("image/avif", StringComparison.OrdinalIgnoreCase)) return "avif";
        if (media.Equals("image/svg+xml", StringComparison.OrdinalIgnoreCase)) return "svg";
        return null;
    }

    /// <summary>The Content-Type of a format made.</summary>
    public static string ContentType(string format) => format switch
    {
        "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a format variants are made in"),
    };

    /// <summary>True when a GIF or WebP original has more than one frame (read from its blocks and chunks, no
    /// pixel decoded). A GIF too malformed to walk counts as still: <see cref="IsCompleteGif"/> refuses it.</summary>
    public static bool IsAnimated(System.Buffers.ReadOnlySequence<byte> body, string format)
    {
        if (format == "webp")
        {
            // RIFF....WEBP VP8X: flags byte, bit 1 (0x02) is animation.
            return body.Length >= 21 && Flag(body);
        }

        return format == "gif" && WalkGif(body, stopAtFrames: 2).Frames > 1;

        static bool Flag(System.Buffers.ReadOnlySequence<byte> body)
        {
            Span<byte> head = stackalloc byte[21];
            body.Slice(0, 21).CopyTo(head);
            return head[12..16].SequenceEqual("VP8X"u8) && (head[20] & 0x02) != 0;
        }
    }

    /// <summary>True when a GIF's blocks can be walked to its trailer (0x3B). A truncated GIF cannot: libvips' GIF
    /// loader decodes the frames it has from one and its <c>fail_on</c> does not stop it, so the node refuses it
    /// before any decoder sees it, as the other loaders refuse their truncated files.</summary>
    public static bool IsCompleteGif(System.Buffers.ReadOnlySequence<byte> body) => WalkGif(body, stopAtFrames: int.MaxValue).Complete;

    /// <summary>Walks a GIF's blocks (header, colour tables, extensions, image descriptors and their data) until
    /// <paramref name="stopAtFrames"/> frames are seen, the trailer is reached (<c>Complete</c>) or the bytes end or
    /// make no sense.</summary>
    private static (int Frames, bool Complete) WalkGif(System.Buffers.ReadOnlySequence<byte> body, int stopAtFrames)
    {
        if (body.Length < 13) return (0, false);
        var reader = new System.Buffers.SequenceReader<byte>(body);
        reader.Advance(10);
        reader.TryRead(out var packed);
        reader.Advance(2);
        if ((packed & 0x80) != 0)
        {
            var table = 3L << ((packed & 7) + 1);
            if (reader.Remaining < table) return (0, false);
            reader.Advance(table);
        }

        var frames = 0;
        while (reader.TryRead(out var block))
        {
            switch (block)
            {
                case 0x3B:
                    return (frames, true);
                case 0x21:
                    if (!reader.TryRead(out _) || !SkipSubBlocks(ref reader)) return (frames, false);
                    break;
                case 0x2C:
                    if (++frames >= stopAtFrames) return (frames, false);
                    if (reader.Remaining < 9) return (frames, false);
                    reader.Advance(8);
                    reader.TryRead(out var local);
                    if ((local & 0x80) != 0)
                    {
                        var table = 3L << ((local & 7) + 1);
                        if (reader.Remaining < table) return (frames, false);
                        reader.Advance(table);
                    }

                    if (!reader.TryRead(out _) || !SkipSubBlocks(ref reader)) return (frames, false);
                    break;
                default:
                    return (frames, false);
            }
        }

        return (frames, false);
    }

    private static bool SkipSubBlocks(ref System.Buffers.SequenceReader<byte> reader)
    {
        while (reader.TryRead(out var size))
        {
            if (size == 0) return true;
            if (reader.Remaining < size) return false;
            reader.Advance(size);
        }

        return false;
    }
}
