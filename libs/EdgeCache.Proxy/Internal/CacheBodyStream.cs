using EdgeCache.Engine;

namespace EdgeCache.Proxy.Internal;

/// <summary>A write-only stream that appends to a <see cref="CacheBody"/>: where an encoder writes the
/// representation it makes (<see cref="Derivations"/> while the original streams in,
/// <see cref="Recompressions"/> when a hot copy is made again).</summary>
internal sealed class CacheBodyStream(CacheBody body) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => body.Length;

    public override long Position { get => body.Length; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => body.Append(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => body.Append(buffer);
}
