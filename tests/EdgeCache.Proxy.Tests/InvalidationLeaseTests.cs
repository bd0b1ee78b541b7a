using EdgeCache.Engine;
using EdgeCache.Nats;
using EdgeCache.Proxy;
using EdgeCache.Proxy.Invalidation;
using Microsoft.Extensions.Time.Testing;

namespace EdgeCache.Proxy.Tests;

/// <summary>The invalidation lease on a fake clock: no I/O, no waiting; lease time moves only by hand.</summary>
public sealed class InvalidationLeaseTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(5);

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero));

    private InvalidationState NewState(string natsUrl = "nats://127.0.0.1:4222") =>
        new(new InvalidationOptions { NatsUrl = natsUrl, Lease = Lease }, _clock);

    [Fact]
    public void A_node_that_never_confirmed_is_not_current()
    {
        var state = NewState();
        Assert.False(state.IsCurrent);
        Assert.Null(state.SinceConfirmed);
    }

    [Fact]
    public void A_node_is_current_right_after_it_confirms_and_until_the_lease_ends()
    {
        var state = NewState();
        state.Confirm();
        Assert.True(state.IsCurrent);
        Assert.Equal(TimeSpan.Zero, state.SinceConfirmed);

        _clock.Advance(Lease);
        Assert.True(state.IsCurrent); // the lease's last moment still counts
        Assert.Equal(Lease, state.SinceConfirmed);
    }

    [Fact]
    public void A_node_stops_being_current_once_the_lease_elapses_without_a_confirmation()
    {
        var state = NewState();
        state.Confirm();
        _clock.Advance(Lease + TimeSpan.FromTicks(1));
        Assert.False(state.IsCurrent);

        // A new confirmation makes it current again, for a whole lease from then.
        state.Confirm();
        Assert.True(state.IsCurrent);
        _clock.Advance(Lease - TimeSpan.FromMilliseconds(1));
        Assert.True(state.IsCurrent);
        _clock.Advance(TimeSpan.FromMilliseconds(2));
        Assert.False(state.IsCurrent);
    }

    [Fact]
    public void A_newer_confirmation_is_never_replaced_by_an_older_one()
    {
        var state = NewState();
        var older = _clock.GetTimestamp(); // a check sent now, answered later (confirmed as of when it was sent)
        _clock.Advance(TimeSpan.FromSeconds(3));
        state.Confirm();
        state.Confirm(older);
        Assert.Equal(TimeSpan.Zero, state.SinceConfirmed);

        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.True(state.IsCurrent); // 4 s after the newer one; the older would have run out at 2 s
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(state.IsCurrent);
    }

    [Fact]
    public void A_confirmation_as_of_an_earlier_check_counts_from_that_check()
    {
        var state = NewState();
        var asked = _clock.GetTimestamp();
        _clock.Advance(TimeSpan.FromSeconds(4));
        state.Confirm(asked);
        Assert.Equal(TimeSpan.FromSeconds(4), state.SinceConfirmed);
        Assert.True(state.IsCurrent);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(state.IsCurrent);
    }

    [Fact]
    public void Without_an_invalidation_stream_a_node_is_always_current()
    {
        var state = NewState(natsUrl: "");
        Assert.True(state.IsCurrent);
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.True(state.IsCurrent);
    }

    [Fact]
    public void The_lease_reads_only_its_own_clock()
    {
        // The node's default lease clock is the system's; this one stands still, whatever the system clock does.
        Assert.Same(TimeProvider.System, InvalidationClock.System.Time);
        var state = new InvalidationState(Microsoft.Extensions.Options.Options.Create(new EdgeCacheOptions { NodeId = "t", Invalidation = { NatsUrl = "nats://127.0.0.1:4222", Lease = Lease } }), new InvalidationClock(_clock));
        Assert.Same(_clock, state.Time);
        state.Confirm();
        Thread.Sleep(20);
        Assert.Equal(TimeSpan.Zero, state.SinceConfirmed);
    }

    [Fact]
    public void The_applied_sequence_only_moves_forward_except_on_a_resume_or_reset()
    {
        var state = NewState();
        state.Advance(10);
        state.Advance(7);
        Assert.Equal(10UL, state.AppliedSeq);
        state.PurgeAll(12);
        Assert.Equal(12UL, state.AppliedSeq);
        Assert.Equal(12UL, state.Rules.MaxSeq);

        // A reset stream starts its sequences over: the node follows the new stream from its end.
        state.Reset(3);
        Assert.Equal(3UL, state.AppliedSeq);
        Assert.Equal(0, state.Rules.Count);

        // What Save keeps with a checkpoint, Load restores.
        state.Advance(5);
        var kept = state.Save();
        var restored = NewState();
        Assert.Equal(5UL, restored.Load(kept));
        Assert.Equal(5UL, restored.AppliedSeq);
    }
}
