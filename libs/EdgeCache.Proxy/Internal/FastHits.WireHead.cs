using System.Runtime.InteropServices;
using System.Text;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Internal;

internal sealed partial class FastHits
{
    /// <summary>
    /// A stored copy's response head as bytes: the status line and every field that does not change
    /// between hits (the same ones <see cref="ResponseWriter"/> sends), and the last Age/Cache-Status
    /// lines built for it (they change once a second at most). Built under one host policy (which
    /// fields a client gets depends on it): a reload's new policy builds it anew.
    /// </summary>
    internal sealed class WireHead
    {
        private TailLines? _tail;

        private WireHead(byte[] fixedPart, ArraySegment<byte>[] body, HostCachePolicy policy, bool supported = true) =>
            (Fixed, Body, Policy, Supported) = (fixedPart, body, policy, supported);

        /// <summary>The host policy the head was built under.</summary>
        private HostCachePolicy Policy { get; }

        /// <summary>False when the entry has a field the fast path will not write.</summary>
        private bool Supported { get; }

        public byte[] Fixed { get; }

        /// <summary>The stored body's arrays, in order (a complete body never changes).</summary>
        public ArraySegment<byte>[] Body { get; }

        /// <summary>The Age and Cache-Status lines for one (age, ttl), and the Cache-Status member itself.</summary>
        public sealed record TailLines(long Age, long Ttl, string CacheStatus, byte[] Bytes, string Detail = "memory");

        /// <summary>The entry's head, built once; null when it has a field the fast path will not write
        /// (anything but visible ASCII: the full path and Kestrel's own checks handle those).
        /// <paramref name="policy"/> is the host's policy for this request.</summary>
        public static WireHead? For(CachedResponse entry, CacheEngine engine, HostCachePolicy policy)
        {
            if (Volatile.Read(ref entry.EncodedHead) is not WireHead wire || !ReferenceEquals(wire.Policy, policy))
            {
                wire = Build(entry, engine, policy) ?? new WireHead([], [], policy, supported: false);
                Volatile.Write(ref entry.EncodedHead, wire);
            }

            return wire.Supported ? wire : null;
        }

        /// <param name="detail">The tier the copy was found in (<c>memory</c>, <c>disk</c>), as Cache-Status says it.</param>
        public TailLines Tail(long age, long ttl, string cacheName, string detail = "memory")
        {
            if (Volatile.Read(ref _tail) is { } t && t.Age == age && t.Ttl == ttl && ReferenceEquals(t.Detail, detail)) return t;
            var status = CacheStatus.ForHit(cacheName, ttl, detail).Format();
            var text = new StringBuilder(64);
            var lines = new StoredHead.Lines(text);
            StoredHead.WriteAgeAndStatus(ref lines, age, status);
            var tail = new TailLines(age, ttl, status, Encoding.ASCII.GetBytes(text.ToString()), detail);
            Volatile.Write(ref _tail, tail);
            return tail;
        }

        private static WireHead? Build(CachedResponse entry, CacheEngine engine, HostCachePolicy policy)
        {
            var body = new List<ArraySegment<byte>>();
            foreach (var part in entry.Body.AsSequence())
            {
                if (!MemoryMarshal.TryGetArray(part, out var array)) return null;
                body.Add(array);
            }

            var text = new StringBuilder("HTTP/1.1 200 OK\r\n");
            var lines = new StoredHead.Lines(text);
            StoredHead.WriteFields(ref lines, entry, engine, policy, StatusCodes.Status200OK, contentRange: null, entry.Body.Length);
            var s = text.ToString();
            foreach (var c in s)
            {
                if (c is (< ' ' and not '\t' and not '\r' and not '\n') or > '~') return null;
            }

            return new WireHead(Encoding.ASCII.GetBytes(s), [.. body], policy);
        }

    }
}
