namespace EdgeCache.Storage;

/// <summary>The budget: the log is truncated at its head once it outgrows it.</summary>
public sealed partial class DiskStore
{
    private readonly object _budgetLock = new();

    /// <summary>Bytes dropped from the head of the log to stay within the budget, since start.</summary>
    public long TruncatedBytes { get; private set; }

    private void EnforceBudget()
    {
        var log = _store.Log;
        if (log.TailAddress - log.BeginAddress <= _options.BudgetBytes) return;
        lock (_budgetLock)
        {
            var begin = log.BeginAddress;
            var until = Math.Min(log.TailAddress - _options.BudgetBytes, log.HeadAddress);
            if (until <= begin) return;
            log.ShiftBeginAddress(until, snapToPageStart: true, truncateLog: true);
            TruncatedBytes += log.BeginAddress - begin;
        }
    }
}
