using EdgeCache.Storage.Internal;
using FASTER.core;

namespace EdgeCache.Storage;

/// <summary>Checkpoints, periodic and on demand, with the node's state written just before each.</summary>
public sealed partial class DiskStore
{
    /// <inheritdoc/>
    public Func<byte[]>? CheckpointState { get; set; }

    /// <inheritdoc/>
    public async ValueTask<byte[]?> ReadStateAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = await ReadAsync(StoreKey.State, cancellationToken).ConfigureAwait(false);
            return bytes is not null && Checksummed.TryOpen(bytes, out var payload) ? payload : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("read", ex);
            return null;
        }
    }

    /// <summary>Takes a checkpoint now (also done periodically and on dispose).</summary>
    public async Task<bool> CheckpointAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            if (Stalled) throw new IOException("The disk store is stalled.");
            if (CheckpointState is { } state)
            {
                using var ms = new MemoryStream();
                ms.Write(state());
                await UpsertAsync(StoreKey.State, Checksummed.Seal(ms)).ConfigureAwait(false);
            }

            var (ok, _) = await WithinTimeout(_store.TakeFullCheckpointAsync(CheckpointType.FoldOver, cancellationToken).AsTask()).ConfigureAwait(false);
            return ok;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReportFailure("checkpoint", ex);
            return false;
        }
    }

    private async Task CheckpointLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.CheckpointInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await CheckpointAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
