using System.IO.Compression;

namespace EdgeCache.Proxy.Internal;

/// <summary>The content codings this node makes and reads: the framework's Brotli and gzip, and zstd
/// from ZstdSharp.Port (managed; chosen over ZstdNet's native wrapper, see the README).</summary>
internal static class Codecs
{
    /// <summary>A stream that encodes what is written to it in <paramref name="coding"/> into <paramref name="output"/>
    /// (left open); disposing it writes the coding's end.</summary>
    public static Stream Encoder(string coding, Stream output, int level) => coding switch
    {
        "br" => new BrotliStream(output, new BrotliCompressionOptions { Quality = level }, leaveOpen: true),
        "gzip" => new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true),
        "zstd" => new ZstdSharp.CompressionStream(output, level, leaveOpen: true),
        _ => throw new ArgumentOutOfRangeException(nameof(coding), coding, "not a coding this node makes"),
    };

    /// <summary>A stream that reads <paramref name="input"/> decoded from <paramref name="coding"/>.</summary>
    public static Stream Decoder(string coding, Stream input) => coding switch
    {
        "br" => new BrotliStream(input, CompressionMode.Decompress, leaveOpen: true),
        "gzip" => new GZipStream(input, CompressionMode.Decompress, leaveOpen: true),
        "zstd" => new ZstdSharp.DecompressionStream(input, leaveOpen: true),
        _ => throw new ArgumentOutOfRangeException(nameof(coding), coding, "not a coding this node reads"),
    };
}
