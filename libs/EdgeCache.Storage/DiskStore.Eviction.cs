namespace EdgeCache.Storage;

/// <summary>
/// The budget: everything the store keeps on disk stays within <see cref="DiskStoreOptions.BudgetBytes"/>.
/// The log gets the budget less what the rest needs (<see cref="DiskStoreOptions.ReservedBytes"/>: the
/// checkpoints and the whole-segment and whole-page slack of truncation), and is truncated at its
/// head before an append would take it past that (a body chunk, a record a read copies to the tail).
/// </summary>
public sealed partial class DiskStore
{
    private readonly object _budgetLock = new();

    /// <summary>Bytes dropped from the head of the log to stay within the budget, since start.</summary>
    public long TruncatedBytes { get; private set; }

    /// <summary>Bytes the log itself may span (begin to tail).</summary>
    private long LogBudgetBytes => _options.BudgetBytes - _options.ReservedBytes;

    /// <summary>Truncates the log's head so that <paramref name="incoming"/> more bytes appended keep it within its budget.</summary>
    private void EnforceBudget(long incoming = 0)
    {
        var log = _store.Log;
        if (log.TailAddress + incoming - log.BeginAddress <= LogBudgetBytes) return;
        lock (_budgetLock)
        {
            var begin = log.BeginAddress;
            // Up to the head: the pages in memory are not on disk, and may not be dropped under a writer.
            // Snapped down to a page's start (the log begins at a record), so it may stay up to a page
            // over its own budget: the reserve has a page for that.
            var until = Math.Min(log.TailAddress + incoming - LogBudgetBytes, log.HeadAddress) & ~((long)DiskStoreOptions.PageBytes - 1);
            if (until <= begin) return;
            log.ShiftBeginAddress(until, snapToPageStart: true, truncateLog: true);
            TruncatedBytes += log.BeginAddress - begin;
        }
    }
}
