namespace EdgeCache.Engine;

/// <summary>
/// Counts the hits of one stored copy until it is hot (<see cref="Threshold"/> hits), then fires once
/// (<see cref="OnHot"/>): how a representation made at a fast level is made again at a high one once it
/// has earned it (<see cref="CompressionPolicy.RecompressAfterHits"/>). A hit costs one interlocked
/// increment and allocates nothing; copies without a trigger (the usual case) pay a null test.
/// </summary>
public abstract class HotTrigger
{
    private int _hits;

    protected HotTrigger(int threshold)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threshold);
        Threshold = threshold;
    }

    /// <summary>Hits after which <see cref="OnHot"/> runs.</summary>
    public int Threshold { get; }

    /// <summary>Hits counted since this trigger was made or last re-armed.</summary>
    public int Hits => Volatile.Read(ref _hits);

    /// <summary>Counts one hit; the one that reaches <see cref="Threshold"/> runs <see cref="OnHot"/> (once:
    /// later hits only count, until <see cref="Rearm"/>).</summary>
    public void Hit()
    {
        if (Interlocked.Increment(ref _hits) == Threshold) OnHot();
    }

    /// <summary>Starts counting again from zero (the work <see cref="OnHot"/> wanted could not be taken on).</summary>
    public void Rearm() => Volatile.Write(ref _hits, 0);

    /// <summary>Runs on the hit that makes the copy hot, on that request's thread: it must only hand the
    /// work on (queue it), never do it.</summary>
    protected abstract void OnHot();
}
