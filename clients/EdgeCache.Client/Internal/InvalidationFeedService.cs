using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Internal;

/// <summary>
/// Follows the purge API's event feed: polls from the last applied sequence, applies each event to
/// HybridCache in order (advancing the cursor event by event, so a failure resumes after the last one
/// applied), then confirms. After a failure it waits (doubling up to MaxRetryDelay) and resumes from
/// the same cursor: the missed events come first, before L1 is trusted again. On stop it leaves the
/// feed so no purge waits for it.
/// </summary>
internal sealed class InvalidationFeedService(
    IInvalidationFeed feed,
    EventApplier applier,
    BackplaneState state,
    BackplaneMetrics metrics,
    IOptions<EdgeCacheInvalidationOptions> options,
    ILogger<InvalidationFeedService> logger) : BackgroundService
{
    private bool _leaseLogged;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var o = options.Value;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PollOnceAsync(stoppingToken).ConfigureAwait(false);
                failures = 0;
                continue;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failures++;
                metrics.PollFailures.Add(1);
                var delay = Backoff(o, failures);
                if (ex is EdgeCacheApiException { StatusCode: HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden } refused) BackplaneLog.Refused(logger, (int)refused.StatusCode, delay);
                else BackplaneLog.PollFailed(logger, ex is EdgeCacheApiException api ? $"{(int)api.StatusCode} {api.Problem?.Title}" : ex.GetType().Name + ": " + ex.Message, delay, state.Lease);
                CheckLease();
                try
                {
                    await Task.Delay(delay, state.Time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                CheckLease();
            }
        }
    }

    /// <summary>One poll: apply what it brings, in order, then confirm from when it was sent.</summary>
    internal async Task PollOnceAsync(CancellationToken cancellationToken)
    {
        var after = state.Cursor;
        var sentAt = state.Time.GetTimestamp();
        // Never longer than half the lease in force, so a good poll confirms again before the lease ends.
        var half = state.Lease / 2;
        var timeout = options.Value.PollTimeout < half ? options.Value.PollTimeout : half;
        var page = await feed.PollAsync(after, timeout, cancellationToken).ConfigureAwait(false);
        if (page.Reset)
        {
            await applier.ResetAsync(cancellationToken).ConfigureAwait(false);
            metrics.Resets.Add(1);
            BackplaneLog.Reset(logger, after ?? 0);
        }
        else
        {
            foreach (var e in page.Events)
            {
                if (after is { } a && e.Sequence <= a) continue; // already applied (a repeated answer)
                var everything = await applier.ApplyAsync(e, cancellationToken).ConfigureAwait(false);
                state.Applied(e.Sequence);
                metrics.Events.Add(1, new KeyValuePair<string, object?>("kind", e.Kind));
                if (logger.IsEnabled(LogLevel.Debug)) BackplaneLog.Applied(logger, e.Sequence, e.Id, string.Join(' ', e.Tags), e.Urls.Length, everything);
            }
        }

        if (after is null) BackplaneLog.Started(logger, options.Value.InstanceId, page.Last);
        if (state.Confirm(page.Last, sentAt, page.InstanceLeaseMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null) && _leaseLogged)
        {
            _leaseLogged = false;
            BackplaneLog.Reconfirmed(logger, page.Last);
        }
    }

    private void CheckLease()
    {
        if (state.IsConfirmed || _leaseLogged || state.Cursor is null) return;
        _leaseLogged = true;
        BackplaneLog.LeaseEnded(logger, state.Lease);
    }

    internal static TimeSpan Backoff(EdgeCacheInvalidationOptions o, int failures)
    {
        var ticks = o.RetryDelay.Ticks * Math.Pow(2, Math.Min(failures - 1, 20));
        return ticks >= o.MaxRetryDelay.Ticks ? o.MaxRetryDelay : TimeSpan.FromTicks((long)ticks);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(2));
            await feed.LeaveAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Best effort: without it the API drops this instance after its lease.
        }
    }
}
