using EdgeCache.Storage.Internal;
using FASTER.core;

namespace EdgeCache.Storage;

/// <summary>FASTER operations. Sessions are single-threaded, so each operation rents one from a pool.</summary>
public sealed partial class DiskStore
{
    private Session Rent() => _sessions.TryTake(out var s) ? s : new Session(_store.For(_functions).NewSession<StoreFunctions>());

    private void Return(Session session) => _sessions.Add(session);

    private async ValueTask<byte[]?> ReadAsync(StoreKey key, CancellationToken cancellationToken)
    {
        var session = Rent();
        try
        {
            var result = await session.Inner.ReadAsync(key, Empty.Default, 0, cancellationToken).ConfigureAwait(false);
            var (status, output) = result.Complete();
            return status.Found ? output : null;
        }
        finally
        {
            Return(session);
        }
    }

    private unsafe void Upsert(StoreKey key, ReadOnlySpan<byte> value)
    {
        var session = Rent();
        try
        {
            fixed (byte* p = value)
            {
                var sb = SpanByte.FromFixedSpan(value);
                var status = session.Inner.Upsert(ref key, ref sb);
                if (status.IsPending) session.Inner.CompletePending(wait: true);
            }
        }
        finally
        {
            Return(session);
        }
    }

    private void Delete(StoreKey key)
    {
        var session = Rent();
        try
        {
            var status = session.Inner.Delete(ref key);
            if (status.IsPending) session.Inner.CompletePending(wait: true);
        }
        finally
        {
            Return(session);
        }
    }

    private ValueTask DeleteAsync(StoreKey key)
    {
        Delete(key);
        return ValueTask.CompletedTask;
    }

    private sealed class Session(ClientSession<StoreKey, SpanByte, SpanByte, byte[], Empty, StoreFunctions> inner) : IDisposable
    {
        public ClientSession<StoreKey, SpanByte, SpanByte, byte[], Empty, StoreFunctions> Inner { get; } = inner;

        public void Dispose() => Inner.Dispose();
    }
}
