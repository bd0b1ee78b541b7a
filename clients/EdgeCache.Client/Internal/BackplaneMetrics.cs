using System.Diagnostics.Metrics;

namespace EdgeCache.Client.Internal;

/// <summary>The backplane's instruments, on the meter <c>EdgeCache.Client</c>.</summary>
internal sealed class BackplaneMetrics : IDisposable
{
    public const string MeterName = "EdgeCache.Client";

    private readonly Meter _meter;

    public BackplaneMetrics(BackplaneState state, IMeterFactory? factory)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        Events = _meter.CreateCounter<long>("edgecache.client.backplane.events", description: "Feed events applied to HybridCache.");
        PollFailures = _meter.CreateCounter<long>("edgecache.client.backplane.poll_failures", description: "Polls of the purge API's event feed that failed.");
        Resets = _meter.CreateCounter<long>("edgecache.client.backplane.resets", description: "Times the feed no longer held the missed events and everything was removed.");
        _meter.CreateObservableGauge("edgecache.client.backplane.confirmed", () => state.IsConfirmed ? 1 : 0, description: "1 while L1 is trusted (confirmed within the lease), else 0.");
        _meter.CreateObservableGauge("edgecache.client.backplane.applied_sequence", () => (long)(state.Cursor ?? 0), description: "The last stream sequence applied.");
    }

    public Counter<long> Events { get; }

    public Counter<long> PollFailures { get; }

    public Counter<long> Resets { get; }

    public void Dispose() => _meter.Dispose();
}
