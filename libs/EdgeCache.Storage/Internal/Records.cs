using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Storage.Internal;

/// <summary>One variant of a URL as the URL record lists it.</summary>
internal sealed record VariantRef(ulong ObjectId, string[] VaryNames, string[] VaryValues);

/// <summary>A URL record: which variants (objects) the store holds for a primary key.</summary>
internal sealed record UrlRecord(string PrimaryKey, List<VariantRef> Variants)
{
    private const byte Kind = 1;

    public byte[] Encode()
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8);
        w.Write(Kind);
        w.Write(PrimaryKey);
        w.Write(Variants.Count);
        foreach (var v in Variants)
        {
            w.Write(v.ObjectId);
            w.Write(v.VaryNames.Length);
            for (var i = 0; i < v.VaryNames.Length; i++)
            {
                w.Write(v.VaryNames[i]);
                w.Write(v.VaryValues[i]);
            }
        }

        return Checksummed.Seal(ms);
    }

    public static UrlRecord? Decode(byte[] data, string expectedKey)
    {
        if (!Checksummed.TryOpen(data, out var payload)) return null;
        using var r = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        if (r.ReadByte() != Kind) return null;
        var key = r.ReadString();
        if (key != expectedKey) return null; // a hash collision: not ours
        var n = r.ReadInt32();
        var variants = new List<VariantRef>(n);
        for (var i = 0; i < n; i++)
        {
            var id = r.ReadUInt64();
            var m = r.ReadInt32();
            var names = new string[m];
            var values = new string[m];
            for (var j = 0; j < m; j++)
            {
                names[j] = r.ReadString();
                values[j] = r.ReadString();
            }

            variants.Add(new VariantRef(id, names, values));
        }

        return new UrlRecord(key, variants);
    }
}

/// <summary>An object's metadata: everything but the body, which is in its chunks.</summary>
internal sealed record MetaRecord(
    int Status,
    KeyValuePair<string, StringValues>[] Headers,
    DateTimeOffset RequestTime,
    DateTimeOffset ResponseTime,
    TimeSpan CorrectedInitialAge,
    DateTimeOffset StoredAt,
    long BodyLength,
    int ChunkBytes,
    string[] VaryValues,
    ulong StoredSeq = 0)
{
    private const byte Kind = 2;

    public long ChunkCount => BodyLength == 0 ? 0 : (BodyLength + ChunkBytes - 1) / ChunkBytes;

    public byte[] Encode()
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8);
        w.Write(Kind);
        w.Write(Status);
        w.Write(RequestTime.UtcTicks);
        w.Write(ResponseTime.UtcTicks);
        w.Write(CorrectedInitialAge.Ticks);
        w.Write(StoredAt.UtcTicks);
        w.Write(BodyLength);
        w.Write(ChunkBytes);
        w.Write(VaryValues.Length);
        foreach (var v in VaryValues) w.Write(v);
        w.Write(Headers.Length);
        foreach (var h in Headers)
        {
            w.Write(h.Key);
            w.Write(h.Value.Count);
            foreach (var v in h.Value) w.Write(v ?? "");
        }

        // Appended in a compatible way: records written before it read back as sequence 0.
        w.Write(StoredSeq);
        return Checksummed.Seal(ms);
    }

    public static MetaRecord? Decode(byte[] data)
    {
        if (!Checksummed.TryOpen(data, out var payload)) return null;
        using var r = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        if (r.ReadByte() != Kind) return null;
        var status = r.ReadInt32();
        var requestTime = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
        var responseTime = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
        var age = new TimeSpan(r.ReadInt64());
        var storedAt = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
        var length = r.ReadInt64();
        var chunk = r.ReadInt32();
        var vary = new string[r.ReadInt32()];
        for (var i = 0; i < vary.Length; i++) vary[i] = r.ReadString();
        var headers = new KeyValuePair<string, StringValues>[r.ReadInt32()];
        for (var i = 0; i < headers.Length; i++)
        {
            var name = r.ReadString();
            var values = new string[r.ReadInt32()];
            for (var j = 0; j < values.Length; j++) values[j] = r.ReadString();
            headers[i] = new(name, new StringValues(values));
        }

        var storedSeq = r.BaseStream.Position + 8 <= r.BaseStream.Length ? r.ReadUInt64() : 0;
        return length < 0 || chunk <= 0 ? null : new MetaRecord(status, headers, requestTime, responseTime, age, storedAt, length, chunk, vary, storedSeq);
    }
}

/// <summary>Records end with an XxHash64 of what precedes them; a record that fails it is corrupt.</summary>
internal static class Checksummed
{
    public static byte[] Seal(MemoryStream payload)
    {
        var body = payload.ToArray();
        var sealedRecord = new byte[body.Length + 8];
        body.CopyTo(sealedRecord, 0);
        XxHash64.Hash(body, sealedRecord.AsSpan(body.Length));
        return sealedRecord;
    }

    public static bool TryOpen(byte[] data, out byte[] payload)
    {
        payload = [];
        if (data.Length < 9) return false;
        Span<byte> hash = stackalloc byte[8];
        XxHash64.Hash(data.AsSpan(0, data.Length - 8), hash);
        if (!hash.SequenceEqual(data.AsSpan(data.Length - 8))) return false;
        payload = data[..^8];
        return true;
    }

    /// <summary>A chunk's checksum is seeded with its object and index, so a chunk of another
    /// object, or from another position, never verifies.</summary>
    public static ulong ChunkHash(ulong objectId, long index, ReadOnlySpan<byte> data) =>
        XxHash64.HashToUInt64(data, (long)(objectId ^ (ulong)index * 0x9E3779B97F4A7C15UL));
}
