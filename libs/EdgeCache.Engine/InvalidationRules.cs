using System.Text.Json;

namespace EdgeCache.Engine;

/// <summary>How an applied invalidation affects one stored object.</summary>
public enum RuleKind
{
    None,

    /// <summary>The object was purged: it must not be served, and is dropped.</summary>
    Hard,

    /// <summary>Soft purge: the object is stale and must be revalidated before it is reused as fresh.</summary>
    Soft,

    /// <summary>The object's remaining freshness was set: it expires at <see cref="RuleMatch.ExpiresAt"/>.</summary>
    Ttl,
}

/// <summary>The strongest applied rule that covers an object.</summary>
public readonly record struct RuleMatch(RuleKind Kind, ulong Sequence, DateTimeOffset ExpiresAt);

/// <summary>
/// Logical invalidation, the way HybridCache invalidates tags: applying an event records a rule
/// (selector → stream sequence) and touches no stored object, so a purge of a tag or prefix that
/// covers 100,000 objects costs the same as a purge of one URL. Each stored object carries the
/// stream sequence its copy is current to (<see cref="CachedResponse.StoredSeq"/>); a rule applies
/// to objects stored before it. Lookups check an object against the rules only when rules newer
/// than the object's last check exist, so the hit path pays one comparison in the steady state.
/// Matching is by dictionary (exact URL, host, host + tag) and by the purged prefixes of the
/// object's own host, never by scanning stored keys.
/// </summary>
public sealed class InvalidationRules
{
    /// <summary>Tags from a key scoped to every host are recorded under this host.</summary>
    private const string AnyHost = "*";

    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _urls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(string Prefix, Entry Entry)>> _prefixes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _tags = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _hosts = new(StringComparer.Ordinal);
    private readonly Entry _all = new();
    private long _maxSeq;
    private int _count;

    public InvalidationRules(int maxRules = 100_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRules);
        MaxRules = maxRules;
    }

    /// <summary>Beyond this many selector rules, rules are folded into per-host rules (see <see cref="Compact"/>).</summary>
    public int MaxRules { get; }

    /// <summary>The newest sequence of any rule; objects checked at or after it need no check.</summary>
    public ulong MaxSeq => (ulong)Volatile.Read(ref _maxSeq);

    public int Count
    {
        get
        {
            lock (_lock) return _count;
        }
    }

    /// <summary>Times rules were folded because <see cref="MaxRules"/> was reached.</summary>
    public long Compactions { get; private set; }

    /// <summary>
    /// Records an event applied at stream sequence <paramref name="seq"/>. <paramref name="locate"/>
    /// turns an absolute URL into the location form stored keys use (see <see cref="LocationOf"/>), or null when it is not a URL.
    /// </summary>
    public void Apply(InvalidationEvent e, ulong seq, DateTimeOffset appliedAt, Func<string, string?> locate)
    {
        var rule = e.Kind == InvalidationKind.Ttl
            ? new Rule(seq, RuleKind.Ttl, appliedAt + TimeSpan.FromSeconds(Math.Max(0, e.MaxAge ?? 0)))
            : new Rule(seq, e.Soft ? RuleKind.Soft : RuleKind.Hard, default);
        lock (_lock)
        {
            if (e.All) Merge(_all, rule);
            foreach (var url in e.Urls)
            {
                if (locate(url) is not { } loc) continue;
                if (e.KeepCopy is { } keep && e.Kind == InvalidationKind.Purge && !e.Soft) MergeRefresh(Get(_urls, loc), seq, keep);
                else Merge(Get(_urls, loc), rule);
            }

            foreach (var prefix in e.Prefixes)
            {
                if (locate(prefix) is not { } loc) continue;
                var host = HostName(loc);
                if (!_prefixes.TryGetValue(host, out var list)) _prefixes[host] = list = [];
                var i = list.FindIndex(p => p.Prefix == loc);
                if (i < 0)
                {
                    list.Add((loc, new Entry()));
                    i = list.Count - 1;
                    _count++;
                }

                Merge(list[i].Entry, rule);
            }

            foreach (var host in e.Hosts) Merge(Get(_hosts, host.ToLowerInvariant()), rule);
            foreach (var tag in e.Tags)
            {
                if (e.Scope is null)
                {
                    Merge(Get(_tags, TagKey(AnyHost, tag)), rule);
                    continue;
                }

                foreach (var host in e.Scope) Merge(Get(_tags, TagKey(host.ToLowerInvariant(), tag)), rule);
            }

            if (_count > MaxRules) Compact();
            Volatile.Write(ref _maxSeq, Math.Max(_maxSeq, (long)seq));
        }
    }

    /// <summary>Everything stored before <paramref name="seq"/> is purged (a gap in the stream, a reset).</summary>
    public void PurgeAll(ulong seq)
    {
        lock (_lock)
        {
            Merge(_all, new Rule(seq, RuleKind.Hard, default));
            Volatile.Write(ref _maxSeq, Math.Max(_maxSeq, (long)seq));
        }
    }

    /// <summary>Forgets every rule (the stream was reset and the tiers emptied).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _urls.Clear();
            _prefixes.Clear();
            _tags.Clear();
            _hosts.Clear();
            _all.HardSeq = 0;
            _all.Latest = null;
            _count = 0;
            Volatile.Write(ref _maxSeq, 0);
        }
    }

    /// <summary>The rule that applies to a stored object, given its key, its surrogate keys, the sequence it is
    /// current to and its copy id (<see cref="CachedResponse.CopyId"/>: a refresh's purge spares the copy it names).</summary>
    public RuleMatch Evaluate(string primaryKey, string[] tags, ulong storedSeq, string? copyId = null)
    {
        if (storedSeq >= MaxSeq) return default;
        var loc = LocationOf(primaryKey);
        var host = HostName(loc);
        var best = new Best(storedSeq, copyId);
        lock (_lock)
        {
            best.Consider(_all);
            if (_hosts.TryGetValue(host, out var h)) best.Consider(h);
            if (_urls.TryGetValue(loc, out var u)) best.Consider(u);
            if (_prefixes.TryGetValue(host, out var list))
            {
                foreach (var (prefix, entry) in list)
                {
                    if (loc.StartsWith(prefix, StringComparison.Ordinal)) best.Consider(entry);
                }
            }

            foreach (var tag in tags)
            {
                if (_tags.TryGetValue(TagKey(host, tag), out var t)) best.Consider(t);
                if (_tags.TryGetValue(TagKey(AnyHost, tag), out var any)) best.Consider(any);
                if (tag.StartsWith(Representation.DerivedFromTag, StringComparison.Ordinal)) ConsiderOriginal(ref best, loc, host, tag);
            }
        }

        return best.Result;
    }

    /// <summary>A derived object (an image variant) is purged with its original: the URL and prefix rules of the
    /// original's location (its own authority, the path the <see cref="Representation.DerivedFromTag"/> tag names).</summary>
    private void ConsiderOriginal(ref Best best, string loc, string host, string tag)
    {
        var slash = loc.IndexOf('/');
        var original = string.Concat(slash < 0 ? loc : loc.AsSpan(0, slash), tag.AsSpan(Representation.DerivedFromTag.Length));
        if (_urls.TryGetValue(original, out var u)) best.Consider(u);
        if (_prefixes.TryGetValue(host, out var list))
        {
            foreach (var (prefix, entry) in list)
            {
                if (original.StartsWith(prefix, StringComparison.Ordinal)) best.Consider(entry);
            }
        }
    }

    /// <summary>The key's location: host[:port] and path-and-query, without the scheme (purges name
    /// URLs; a node may have stored them under http or https).</summary>
    public static string LocationOf(string primaryKey)
    {
        var i = primaryKey.IndexOf("://", StringComparison.Ordinal);
        return i < 0 ? primaryKey : primaryKey[(i + 3)..];
    }

    /// <summary>The lower-case host name (no port) of a location.</summary>
    public static string HostName(string location)
    {
        var slash = location.IndexOf('/');
        var authority = slash < 0 ? location : location[..slash];
        var colon = authority.LastIndexOf(':');
        if (colon > 0 && authority.IndexOf(']') < colon) authority = authority[..colon];
        return authority;
    }

    private static string TagKey(string host, string tag) => string.Concat(host, "\n", tag);

    private Entry Get(Dictionary<string, Entry> map, string key)
    {
        if (!map.TryGetValue(key, out var e))
        {
            map[key] = e = new Entry();
            _count++;
        }

        return e;
    }

    /// <summary>A refresh of one URL: the newest is kept (a copy an older refresh stored predates the newer
    /// one's purge, so the newer rule covers it too).</summary>
    private static void MergeRefresh(Entry entry, ulong seq, string keep)
    {
        if (seq <= entry.RefreshSeq) return;
        entry.RefreshSeq = seq;
        entry.RefreshKeep = keep;
    }

    private static void Merge(Entry entry, Rule rule)
    {
        if (rule.Kind == RuleKind.Hard)
        {
            entry.HardSeq = Math.Max(entry.HardSeq, rule.Seq);
        }
        else if (entry.Latest is not { } latest || latest.Seq <= rule.Seq)
        {
            entry.Latest = rule;
        }
    }

    /// <summary>
    /// Folds URL, prefix and tag rules into rules for their hosts, so the table stays bounded. This
    /// only ever invalidates more: a folded purge covers its whole host, and a folded TTL change
    /// becomes a soft purge of its host (it must never extend other objects' lifetimes).
    /// </summary>
    private void Compact()
    {
        Compactions++;
        void Fold(string host, Entry e)
        {
            var target = host == AnyHost ? _all : Get(_hosts, host);
            // A folded refresh purges its whole host, the copy it kept included (a miss, never an old page).
            var hard = Math.Max(e.HardSeq, e.RefreshSeq);
            if (hard > 0) Merge(target, new Rule(hard, RuleKind.Hard, default));
            if (e.Latest is { } l) Merge(target, l with { Kind = RuleKind.Soft });
        }

        foreach (var (loc, e) in _urls) Fold(HostName(loc), e);
        foreach (var (host, list) in _prefixes)
        {
            foreach (var (_, e) in list) Fold(host, e);
        }

        foreach (var (key, e) in _tags) Fold(key[..key.IndexOf('\n')], e);
        _urls.Clear();
        _prefixes.Clear();
        _tags.Clear();
        _count = _hosts.Count;
    }

    /// <summary>The rules as a serialisable snapshot (kept with the disk checkpoint).</summary>
    public byte[] Save(ulong appliedSeq)
    {
        var s = new Snapshot { AppliedSeq = appliedSeq };
        lock (_lock)
        {
            s.All = Dto(_all);
            foreach (var (k, e) in _urls) s.Urls[k] = Dto(e);
            foreach (var (k, e) in _tags) s.Tags[k] = Dto(e);
            foreach (var (k, e) in _hosts) s.Hosts[k] = Dto(e);
            foreach (var (host, list) in _prefixes)
            {
                foreach (var (p, e) in list) s.Prefixes[p] = Dto(e);
            }
        }

        return JsonSerializer.SerializeToUtf8Bytes(s, InvalidationJsonContext.Default.Snapshot);
    }

    /// <summary>Loads a snapshot written by <see cref="Save"/>; returns its applied sequence, or null when the bytes are not one.</summary>
    public ulong? Load(ReadOnlySpan<byte> utf8)
    {
        Snapshot? s;
        try
        {
            s = JsonSerializer.Deserialize(utf8, InvalidationJsonContext.Default.Snapshot);
        }
        catch (JsonException)
        {
            return null;
        }

        if (s is null) return null;
        lock (_lock)
        {
            Restore(_all, s.All);
            foreach (var (k, d) in s.Urls) Restore(Get(_urls, k), d);
            foreach (var (k, d) in s.Tags) Restore(Get(_tags, k), d);
            foreach (var (k, d) in s.Hosts) Restore(Get(_hosts, k), d);
            foreach (var (p, d) in s.Prefixes)
            {
                var host = HostName(p);
                if (!_prefixes.TryGetValue(host, out var list)) _prefixes[host] = list = [];
                var e = new Entry();
                Restore(e, d);
                list.Add((p, e));
                _count++;
            }

            var max = Math.Max(s.All.HardSeq, s.All.LatestSeq);
            foreach (var d in s.Urls.Values.Concat(s.Tags.Values).Concat(s.Hosts.Values).Concat(s.Prefixes.Values))
            {
                max = Math.Max(max, Math.Max(Math.Max(d.HardSeq, d.LatestSeq), d.RefreshSeq));
            }

            Volatile.Write(ref _maxSeq, Math.Max(_maxSeq, (long)max));
        }

        return s.AppliedSeq;
    }

    private static EntryDto Dto(Entry e) => new()
    {
        HardSeq = e.HardSeq,
        RefreshSeq = e.RefreshSeq,
        RefreshKeep = e.RefreshKeep,
        LatestSeq = e.Latest?.Seq ?? 0,
        LatestKind = e.Latest?.Kind ?? RuleKind.None,
        LatestExpires = e.Latest?.ExpiresAt ?? default,
    };

    private static void Restore(Entry e, EntryDto d)
    {
        e.HardSeq = Math.Max(e.HardSeq, d.HardSeq);
        if (d.RefreshKeep is { } keep) MergeRefresh(e, d.RefreshSeq, keep);
        if (d.LatestKind != RuleKind.None) Merge(e, new Rule(d.LatestSeq, d.LatestKind, d.LatestExpires));
    }

    private readonly record struct Rule(ulong Seq, RuleKind Kind, DateTimeOffset ExpiresAt);

    private sealed class Entry
    {
        public ulong HardSeq;
        public Rule? Latest;

        /// <summary>The newest refresh of this URL: a hard purge at this sequence of every copy but the one
        /// whose copy id is <see cref="RefreshKeep"/>.</summary>
        public ulong RefreshSeq;
        public string? RefreshKeep;
    }

    private struct Best(ulong storedSeq, string? copyId)
    {
        private RuleMatch _result;

        public readonly RuleMatch Result => _result;

        public void Consider(Entry e)
        {
            if (_result.Kind == RuleKind.Hard) return;
            if (e.HardSeq > storedSeq)
            {
                _result = new RuleMatch(RuleKind.Hard, e.HardSeq, default);
                return;
            }

            if (e.RefreshSeq > storedSeq && !string.Equals(copyId, e.RefreshKeep, StringComparison.Ordinal))
            {
                _result = new RuleMatch(RuleKind.Hard, e.RefreshSeq, default);
                return;
            }

            if (e.Latest is { } l && l.Seq > storedSeq && l.Seq > _result.Sequence) _result = new RuleMatch(l.Kind, l.Seq, l.ExpiresAt);
        }
    }

    internal sealed class Snapshot
    {
        public ulong AppliedSeq { get; set; }
        public EntryDto All { get; set; } = new();
        public Dictionary<string, EntryDto> Urls { get; set; } = [];
        public Dictionary<string, EntryDto> Prefixes { get; set; } = [];
        public Dictionary<string, EntryDto> Tags { get; set; } = [];
        public Dictionary<string, EntryDto> Hosts { get; set; } = [];
    }

    internal sealed class EntryDto
    {
        public ulong HardSeq { get; set; }
        public ulong RefreshSeq { get; set; }
        public string? RefreshKeep { get; set; }
        public ulong LatestSeq { get; set; }
        public RuleKind LatestKind { get; set; }
        public DateTimeOffset LatestExpires { get; set; }
    }
}
