using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Engine;

/// <summary>
/// The hot tier: stored responses by primary key, each key holding its Vary variants. Bounded in
/// bytes. Lookups are lock-free and never copy a body; eviction is CLOCK (second chance): a hit sets
/// a reference bit, and the evictor skips referenced entries once before dropping them.
/// </summary>
public sealed class MemoryTier
{
    private readonly ConcurrentDictionary<string, Node> _nodes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Node> _clock = new();
    private readonly object _evictLock = new();
    private long _bytes;
    private long _evictions;

    public MemoryTier(long budgetBytes, long maxObjectBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(budgetBytes);
        BudgetBytes = budgetBytes;
        MaxObjectBytes = Math.Min(maxObjectBytes, budgetBytes);
    }

    public long BudgetBytes { get; }

    public long MaxObjectBytes { get; }

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Evictions => Interlocked.Read(ref _evictions);

    public int Count => _nodes.Count;

    /// <summary>Returns the variant of <paramref name="primaryKey"/> that the request selects, or null.
    /// <paramref name="urlKnown"/> tells a vary-miss (the URL is stored, the variant is not) from a uri-miss.</summary>
    public CachedResponse? Get(string primaryKey, IHeaderDictionary requestHeaders, out bool urlKnown)
    {
        if (!_nodes.TryGetValue(primaryKey, out var node))
        {
            urlKnown = false;
            return null;
        }

        urlKnown = true;
        var variants = node.Variants;
        foreach (var v in variants)
        {
            if (Vary.Matches(v, requestHeaders))
            {
                node.Referenced = true;
                return v;
            }
        }

        return null;
    }

    /// <summary>The stored response of <paramref name="primaryKey"/> when it is the key's only variant
    /// and has no Vary, so it answers every request for the URL; else null. The fast hit path uses
    /// this: it does not build request header collections to match Vary.</summary>
    public CachedResponse? GetUnvaried(string primaryKey)
    {
        if (!_nodes.TryGetValue(primaryKey, out var node) || node.Variants is not [var only] || only.VaryNames.Length != 0) return null;
        node.Referenced = true;
        return only;
    }

    /// <summary>
    /// The variant of <paramref name="primaryKey"/> that a request selects when every variant varies
    /// on the one field <paramref name="name"/> (lower case) and the request's normalised value of it is
    /// <paramref name="normalized"/>: the fast path's allocation-free selection (Vary: Accept-Encoding).
    /// <paramref name="decided"/> is false when the variants vary on anything else, and the caller must
    /// match the request's fields with <see cref="Get"/>.
    /// </summary>
    public CachedResponse? GetBySingleField(string primaryKey, string name, string normalized, out bool decided)
    {
        decided = true;
        if (!_nodes.TryGetValue(primaryKey, out var node)) return null;
        CachedResponse? match = null;
        foreach (var v in node.Variants)
        {
            if (v.VaryNames is not [var only] || only != name)
            {
                decided = false;
                return null;
            }

            if (match is null && string.Equals(v.VaryValues[0], normalized, StringComparison.Ordinal)) match = v;
        }

        if (match is not null) node.Referenced = true;
        return match;
    }

    /// <summary>What the tier charges against its budget for storing <paramref name="response"/> under
    /// <paramref name="primaryKey"/>: the response (<see cref="CachedResponse.Size"/>) and the entry around it.</summary>
    public static long EntryBytes(string primaryKey, CachedResponse response) => response.Size + KeyBytes(primaryKey);

    private static long KeyBytes(string key) => 160 + 2L * key.Length;

    /// <summary>Every variant of <paramref name="primaryKey"/> held (empty when none), without touching its
    /// reference bit: for finding the original a representation is derived from, on a miss.</summary>
    public CachedResponse[] Variants(string primaryKey) => _nodes.TryGetValue(primaryKey, out var node) ? node.Variants : [];

    /// <summary>True when <paramref name="entry"/> itself (by reference) is a variant of <paramref name="primaryKey"/> now.</summary>
    public bool Holds(string primaryKey, CachedResponse entry) =>
        _nodes.TryGetValue(primaryKey, out var node) && Array.IndexOf(node.Variants, entry) >= 0;

    /// <summary>True when some variant of <paramref name="primaryKey"/> is held.</summary>
    public bool Contains(string primaryKey) => _nodes.TryGetValue(primaryKey, out var node) && node.Variants.Length > 0;

    /// <summary>Stores a complete response, replacing the variant with the same secondary key. A partial
    /// (<see cref="CachedResponse.IsPartial"/>) replaces only a partial: never a complete response
    /// (RFC 9111 §3.3), and then it is not stored (false).</summary>
    public bool Set(string primaryKey, CachedResponse response)
    {
        if (!response.Body.IsCompleted) throw new ArgumentException("Only complete bodies are stored.", nameof(response));
        var size = response.Size;
        if (size > MaxObjectBytes) return false;

        while (true)
        {
            var node = _nodes.GetOrAdd(primaryKey, static k => new Node(k));
            lock (node)
            {
                if (node.Removed) continue;
                var old = node.Variants;
                if (response.IsPartial && HoldsComplete(old, response)) return false;
                var list = new List<CachedResponse>(old.Length + 1);
                long delta = size + node.KeyBytes;
                foreach (var v in old)
                {
                    if (SameVariant(v, response))
                    {
                        delta -= v.Size + node.KeyBytes;
                    }
                    else
                    {
                        list.Add(v);
                    }
                }

                list.Add(response);
                node.Variants = [.. list];
                node.Size += delta;
                node.Referenced = true;
                Interlocked.Add(ref _bytes, delta);
                if (!node.Queued)
                {
                    node.Queued = true;
                    _clock.Enqueue(node);
                }
            }

            break;
        }

        EvictIfNeeded();
        return true;
    }

    /// <summary>
    /// Puts <paramref name="replacement"/> in the place of <paramref name="expected"/> when that very copy
    /// (by reference) is still a variant of <paramref name="primaryKey"/>; false, and nothing changed,
    /// when it is not: the URL was purged, evicted or stored anew, or a rule replaced the copy, since the
    /// caller read it. A background re-encode stores its result this way, so it never brings back a copy
    /// that was removed while it ran.
    /// </summary>
    public bool Replace(string primaryKey, CachedResponse expected, CachedResponse replacement)
    {
        if (!replacement.Body.IsCompleted) throw new ArgumentException("Only complete bodies are stored.", nameof(replacement));
        if (!_nodes.TryGetValue(primaryKey, out var node)) return false;
        var size = replacement.Size;
        if (size > MaxObjectBytes) return false;
        lock (node)
        {
            if (node.Removed) return false;
            var variants = node.Variants;
            var i = Array.IndexOf(variants, expected);
            if (i < 0) return false;
            var list = (CachedResponse[])variants.Clone();
            list[i] = replacement;
            var delta = size - expected.Size;
            node.Variants = list;
            node.Size += delta;
            Interlocked.Add(ref _bytes, delta);
        }

        EvictIfNeeded();
        return true;
    }

    /// <summary>Removes every variant of a URL. Returns how many variants were removed.</summary>
    public int Remove(string primaryKey)
    {
        if (!_nodes.TryRemove(primaryKey, out var node)) return 0;
        return Drop(node);
    }

    /// <summary>Removes or replaces entries that match a predicate (purges). Returns how many changed.</summary>
    public int Update(Func<string, bool> keyFilter, Func<CachedResponse, CachedResponse?> change)
    {
        var changed = 0;
        foreach (var (key, node) in _nodes)
        {
            if (!keyFilter(key)) continue;
            lock (node)
            {
                if (node.Removed) continue;
                var list = new List<CachedResponse>(node.Variants.Length);
                long delta = 0;
                foreach (var v in node.Variants)
                {
                    var n = change(v);
                    if (!ReferenceEquals(n, v)) changed++;
                    if (n is null) { delta -= v.Size + node.KeyBytes; continue; }
                    delta += n.Size - v.Size;
                    list.Add(n);
                }

                node.Variants = [.. list];
                node.Size += delta;
                Interlocked.Add(ref _bytes, delta);
            }

            if (node.Variants.Length == 0 && _nodes.TryRemove(new KeyValuePair<string, Node>(key, node)))
            {
                Drop(node);
            }
        }

        return changed;
    }

    private int Drop(Node node)
    {
        lock (node)
        {
            if (node.Removed) return 0;
            node.Removed = true;
            var count = node.Variants.Length;
            Interlocked.Add(ref _bytes, -node.Size);
            node.Size = 0;
            node.Variants = [];
            return count;
        }
    }

    private void EvictIfNeeded()
    {
        if (Interlocked.Read(ref _bytes) <= BudgetBytes) return;
        lock (_evictLock)
        {
            // Bounded sweep: every node gets at most one second chance per pass.
            var budget = _clock.Count * 2 + 1;
            while (Interlocked.Read(ref _bytes) > BudgetBytes && budget-- > 0 && _clock.TryDequeue(out var node))
            {
                if (node.Removed) continue;
                if (node.Referenced)
                {
                    node.Referenced = false;
                    _clock.Enqueue(node);
                    continue;
                }

                node.Queued = false;
                if (_nodes.TryRemove(new KeyValuePair<string, Node>(node.Key, node)))
                {
                    Drop(node);
                    Interlocked.Increment(ref _evictions);
                }
            }
        }
    }

    private static bool HoldsComplete(CachedResponse[] variants, CachedResponse partial)
    {
        foreach (var v in variants)
        {
            if (!v.IsPartial && SameVariant(v, partial)) return true;
        }

        return false;
    }

    private static bool SameVariant(CachedResponse a, CachedResponse b) =>
        a.VaryNames.AsSpan().SequenceEqual(b.VaryNames) && a.VaryValues.AsSpan().SequenceEqual(b.VaryValues);

    private sealed class Node(string key)
    {
        /// <summary>What an entry costs beyond its response, charged with each variant: the key string, this
        /// node, its dictionary entry, its variants array and its place in the eviction queue (measured by
        /// <c>MemoryAccountingTests</c>).</summary>
        public readonly long KeyBytes = MemoryTier.KeyBytes(key);

        public string Key { get; } = key;
        public volatile CachedResponse[] Variants = [];
        public long Size;
        public volatile bool Referenced;
        public bool Queued;
        public bool Removed;
    }
}
