using System.Collections.Concurrent;

namespace EdgeCache.LoadOrigin;

/// <summary>Counters, versions, failure mode and the object bodies of the load origin.</summary>
internal sealed class OriginState
{
    /// <summary>Bodies kept for reuse; past this many, bodies are made per request (unique-URL miss runs).</summary>
    private const int MaxCachedBodies = 4096;

    private readonly ConcurrentDictionary<string, byte[]> _bodies = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _versions = new(StringComparer.Ordinal);
    private int _cachedBodies;
    private long _globalVersion = 1;
    private volatile int _failMode;

    public long Total;
    public long Failed;

    public ConcurrentDictionary<string, long> ByPath { get; } = new(StringComparer.Ordinal);

    public FailMode FailMode
    {
        get => (FailMode)_failMode;
        set => _failMode = (int)value;
    }

    public string FailModeName => FailMode switch
    {
        FailMode.ServiceUnavailable => "503",
        FailMode.Reset => "reset",
        _ => "off",
    };

    public void Count(string path)
    {
        Interlocked.Increment(ref Total);
        ByPath.AddOrUpdate(path, 1, static (_, n) => n + 1);
    }

    public void Reset()
    {
        Interlocked.Exchange(ref Total, 0);
        Interlocked.Exchange(ref Failed, 0);
        ByPath.Clear();
    }

    public long VersionOf(string path) =>
        Interlocked.Read(ref _globalVersion) + (_versions.TryGetValue(path, out var v) ? v : 0);

    /// <summary>Bumps one object's version, or every object's when <paramref name="path"/> is null.</summary>
    public long Bump(string? path)
    {
        if (path is null)
        {
            return Interlocked.Increment(ref _globalVersion);
        }

        _versions.AddOrUpdate(path, 1, static (_, n) => n + 1);
        return VersionOf(path);
    }

    public byte[] Body(string size, string name, int length)
    {
        var key = size + "/" + name;
        if (_bodies.TryGetValue(key, out var body)) return body;
        body = Fill(length, name);
        if (Interlocked.Increment(ref _cachedBodies) <= MaxCachedBodies)
        {
            body = _bodies.GetOrAdd(key, body);
        }

        return body;
    }

    /// <summary>Compressible text of <paramref name="length"/> bytes for <paramref name="name"/> (numbered lines of markup).</summary>
    public byte[] Text(string size, string name, int length) => Cached("text/" + size + "/" + name, () =>
    {
        var sb = new System.Text.StringBuilder(length + 128);
        for (var i = 0; sb.Length < length; i++)
        {
            sb.Append("<li class=\"item\" data-n=\"").Append(i).Append("\"><a href=\"/").Append(name).Append('/').Append(i * 7919 % 10007)
              .Append("\">Item number ").Append(i * 7919 % 10007).Append("</a></li>\n");
        }

        return System.Text.Encoding.ASCII.GetBytes(sb.ToString(0, length));
    });

    /// <summary><see cref="Text"/> gzip-encoded at level 6 (a web origin's usual gzip).</summary>
    public byte[] GzipText(string size, string name, int length) => Cached("gzip/" + size + "/" + name, () =>
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, new System.IO.Compression.ZLibCompressionOptions { CompressionLevel = 6 }, leaveOpen: true))
        {
            gzip.Write(Text(size, name, length));
        }

        return output.ToArray();
    });

    private byte[] Cached(string key, Func<byte[]> make)
    {
        if (_bodies.TryGetValue(key, out var body)) return body;
        body = make();
        if (Interlocked.Increment(ref _cachedBodies) <= MaxCachedBodies) body = _bodies.GetOrAdd(key, body);
        return body;
    }

    private static byte[] Fill(int size, string seed)
    {
        var body = new byte[size];
        new Random(seed.GetHashCode(StringComparison.Ordinal)).NextBytes(body);
        return body;
    }
}
