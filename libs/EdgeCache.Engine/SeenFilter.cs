namespace EdgeCache.Engine;

/// <summary>
/// Which keys were seen recently: a two-hash Bloom filter of 2^20 bits (128 KiB), cleared once it has
/// taken a window of new keys (at least 4,096, at most 131,072, where a false "seen" stays under 5%).
/// The disk tier uses it to promote an object to memory only on its second disk hit within the window,
/// as Traffic Server's RAM-cache seen filter admits objects: with the window about the number of objects
/// memory holds, an object read from disk less often than memory turns over never pushes a hotter one out
/// (a uniform working set larger than memory would otherwise replace memory's whole content, one
/// large-object allocation per hit, for no gain in hits), and a hit not promoted is served from a pooled array.
/// Lock-free; a race loses at most a bit or a clear, which only makes a promotion early or late.
/// </summary>
public sealed class SeenFilter(Func<int> window)
{
    private const int Bits = 1 << 20;
    private const int MinWindow = 4096;
    private const int MaxWindow = Bits / 8;
    private readonly long[] _words = new long[Bits / 64];
    private int _added;

    // The window, read again every 1,024 new keys, not per key: it may be costly to work out (a
    // ConcurrentDictionary's Count takes all its locks).
    private int _window = -1;

    /// <summary>True when <paramref name="key"/> was added since the last clear.</summary>
    public bool Seen(string key)
    {
        var (a, b) = Positions(key);
        return IsSet(a) && IsSet(b);
    }

    /// <summary>Adds <paramref name="key"/>; a new key counts toward the window, after which the filter is cleared.</summary>
    public void Add(string key)
    {
        var (a, b) = Positions(key);
        if (IsSet(a) && IsSet(b)) return;
        Set(a);
        Set(b);
        var added = Interlocked.Increment(ref _added);
        var limit = Volatile.Read(ref _window);
        if (limit < 0 || (added & 1023) == 0) Volatile.Write(ref _window, limit = Math.Clamp(window(), MinWindow, MaxWindow));
        if (added >= limit)
        {
            Volatile.Write(ref _added, 0);
            Array.Clear(_words);
        }
    }

    private static (int A, int B) Positions(string key)
    {
        var hash = RendezvousHash.HashKey(key);
        return ((int)(hash & (Bits - 1)), (int)((hash >> 32) & (Bits - 1)));
    }

    private bool IsSet(int bit) => (Volatile.Read(ref _words[bit >> 6]) & (1L << (bit & 63))) != 0;

    private void Set(int bit) => Interlocked.Or(ref _words[bit >> 6], 1L << (bit & 63));
}
