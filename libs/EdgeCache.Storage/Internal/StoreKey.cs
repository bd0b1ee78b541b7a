using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using FASTER.core;

namespace EdgeCache.Storage.Internal;

/// <summary>A 128-bit record key: a URL record is the hash of its primary key; an object's metadata
/// and chunks are (object id, index), with the metadata at index <see cref="MetaIndex"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StoreKey : IEquatable<StoreKey>
{
    public const ulong MetaIndex = ulong.MaxValue;

    public ulong Hi;
    public ulong Lo;

    public static StoreKey ForUrl(string primaryKey)
    {
        var hash = XxHash128.HashToUInt128(Encoding.UTF8.GetBytes("url\n" + primaryKey));
        return new StoreKey { Hi = (ulong)(hash >> 64), Lo = (ulong)hash };
    }

    /// <summary>The node's checkpointed state (object ids are never 0).</summary>
    public static StoreKey State => new() { Hi = 0, Lo = 1 };

    public static StoreKey ForMeta(ulong objectId) => new() { Hi = objectId, Lo = MetaIndex };

    public static StoreKey ForChunk(ulong objectId, long index) => new() { Hi = objectId, Lo = (ulong)index };

    public readonly bool Equals(StoreKey other) => Hi == other.Hi && Lo == other.Lo;

    public override readonly bool Equals(object? obj) => obj is StoreKey k && Equals(k);

    public override readonly int GetHashCode() => HashCode.Combine(Hi, Lo);
}

internal sealed class StoreKeyComparer : IFasterEqualityComparer<StoreKey>
{
    public long GetHashCode64(ref StoreKey k) => (long)((k.Hi * 0x9E3779B97F4A7C15UL) ^ k.Lo ^ (k.Lo >> 29));

    public bool Equals(ref StoreKey a, ref StoreKey b) => a.Hi == b.Hi && a.Lo == b.Lo;
}

/// <summary>
/// What a read gives back. Without <see cref="HasInto"/>: the value as a new array (records are
/// small: metadata, a URL record, the node's state). With it (a chunk): the value's first 8 bytes,
/// its checksum, in <see cref="Prefix"/>, and the rest copied straight into <see cref="Into"/> when
/// it is exactly that long (else nothing is copied); <see cref="Length"/> is the value's length either way.
/// </summary>
internal struct ReadOutput
{
    public bool HasInto;
    public Memory<byte> Into;
    public byte[]? Bytes;
    public int Length;
    public ulong Prefix;
}

/// <summary>Reads a value out (see <see cref="ReadOutput"/>).</summary>
internal sealed class StoreFunctions : SpanByteFunctions<StoreKey, ReadOutput, Empty>
{
    public override bool SingleReader(ref StoreKey key, ref SpanByte input, ref SpanByte value, ref ReadOutput dst, ref ReadInfo readInfo) => CopyOut(ref value, ref dst);

    public override bool ConcurrentReader(ref StoreKey key, ref SpanByte input, ref SpanByte value, ref ReadOutput dst, ref ReadInfo readInfo) => CopyOut(ref value, ref dst);

    private static bool CopyOut(ref SpanByte value, ref ReadOutput dst)
    {
        var bytes = value.AsReadOnlySpan();
        dst.Length = bytes.Length;
        if (!dst.HasInto)
        {
            dst.Bytes = bytes.ToArray();
        }
        else if (bytes.Length == dst.Into.Length + 8)
        {
            dst.Prefix = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            bytes[8..].CopyTo(dst.Into.Span);
        }

        return true;
    }
}
