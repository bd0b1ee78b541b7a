using System.Security.Cryptography;
using EdgeCache.Engine;

namespace EdgeCache.PurgeApi;

/// <summary>
/// What <c>POST /purge</c> and <c>POST /ttl</c> remember of requests that carried an
/// <c>Idempotency-Key</c> (draft-ietf-httpapi-idempotency-key-header): per API key id and
/// idempotency key, the request's fingerprint and, once it was answered, the purge it became.
/// A key is remembered for <see cref="PurgeApiOptions.IdempotencyWindow"/> from its first use,
/// at most <see cref="PurgeApiOptions.IdempotencyKeyLimit"/> of them (oldest forgotten first).
/// Only requests that were published are remembered: one refused (auth, validation, NATS down)
/// is <see cref="Abandon"/>ed, so its retry is a new request. Memory of this process only.
/// </summary>
internal sealed class IdempotencyStore(PurgeApiOptions options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string KeyId, string Key), Entry> _entries = [];
    private readonly Queue<Entry> _order = new();

    /// <summary>Keys remembered now (including expired ones not yet swept).</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _entries.Count;
        }
    }

    /// <summary>A fingerprint of the request: the endpoint and the body's bytes.</summary>
    public static byte[] Fingerprint(InvalidationKind kind, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes((int)kind));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    /// <summary>Looks the key up, and reserves it when it is new (the caller then <see cref="Complete"/>s
    /// or <see cref="Abandon"/>s the entry).</summary>
    public (IdempotencyOutcome Outcome, Entry Entry) Begin(string keyId, string key, byte[] fingerprint)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Sweep(now);
            if (_entries.TryGetValue((keyId, key), out var existing))
            {
                if (!CryptographicOperations.FixedTimeEquals(existing.Fingerprint, fingerprint)) return (IdempotencyOutcome.Mismatch, existing);
                return (existing.Response is null ? IdempotencyOutcome.InFlight : IdempotencyOutcome.Replay, existing);
            }

            var entry = new Entry(keyId, key, fingerprint, now + options.IdempotencyWindow);
            _entries[(keyId, key)] = entry;
            _order.Enqueue(entry);
            while (_entries.Count > options.IdempotencyKeyLimit && _order.TryDequeue(out var oldest)) Forget(oldest);
            return (IdempotencyOutcome.New, entry);
        }
    }

    /// <summary>Remembers the answer the first request got.</summary>
    public void Complete(Entry entry, RememberedResponse response)
    {
        lock (_lock) entry.Response = response;
    }

    /// <summary>Forgets a reserved key whose request was refused or failed before publishing.</summary>
    public void Abandon(Entry entry)
    {
        lock (_lock) Forget(entry);
    }

    private void Sweep(DateTimeOffset now)
    {
        // Every entry has the same window, so the queue is in expiry order.
        while (_order.TryPeek(out var oldest) && (oldest.Expires <= now || !IsCurrent(oldest)))
        {
            _order.Dequeue();
            Forget(oldest);
        }
    }

    private bool IsCurrent(Entry entry) => _entries.TryGetValue((entry.KeyId, entry.Key), out var e) && ReferenceEquals(e, entry);

    private void Forget(Entry entry)
    {
        if (IsCurrent(entry)) _entries.Remove((entry.KeyId, entry.Key));
    }

    public sealed class Entry(string keyId, string key, byte[] fingerprint, DateTimeOffset expires)
    {
        public string KeyId { get; } = keyId;
        public string Key { get; } = key;
        public byte[] Fingerprint { get; } = fingerprint;
        public DateTimeOffset Expires { get; } = expires;

        /// <summary>Null while the first request is still being handled.</summary>
        public RememberedResponse? Response { get; set; }
    }
}

/// <summary>What the first request was answered: its status and body, and the purge it became.</summary>
internal sealed record RememberedResponse(int Status, string PurgeId, byte[] Body);

internal enum IdempotencyOutcome
{
    /// <summary>First use: handle the request.</summary>
    New,

    /// <summary>Same key, same request, answered: replay the answer.</summary>
    Replay,

    /// <summary>Same key, same request, the first still being handled: 409.</summary>
    InFlight,

    /// <summary>Same key, a different request: 422.</summary>
    Mismatch,
}
