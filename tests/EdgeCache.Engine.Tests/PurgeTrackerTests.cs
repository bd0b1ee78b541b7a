using EdgeCache.Nats;
using EdgeCache.PurgeApi;

namespace EdgeCache.Engine.Tests;

/// <summary>The purge API's bookkeeping of which nodes applied a purge (no NATS: acknowledgements are fed in).</summary>
public sealed class PurgeTrackerTests
{
    private static readonly NodeInfo[] Nodes = [Node("edge-1"), Node("edge-2"), Node("shield-a")];

    private static NodeInfo Node(string id, ulong applied = 0) => new() { Node = id, Role = "edge", AppliedSeq = applied };

    private static long Now => TimeProvider.System.GetTimestamp();

    [Fact]
    public async Task A_purge_completes_when_every_node_live_at_publication_acknowledged_it_and_not_before()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions());
        var record = tracker.Track("p1", 5, "dev", Nodes, Now);

        tracker.Observe("edge-1", 5);
        tracker.Observe("edge-2", 4);          // an older event: not this purge
        tracker.Observe("somebody-else", 9);   // not live at publication: not waited on
        Assert.False(record.Complete);
        Assert.False(record.Completed.IsCompleted);
        Assert.Equal(["edge-2", "shield-a"], record.ToStatus().Missing);

        tracker.Observe("edge-2", 6);
        tracker.Observe("shield-a", 5);
        await record.Completed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(record.ToStatus().Complete);
        Assert.Equal(["edge-1", "edge-2", "shield-a"], record.ToStatus().Acked.Select(a => a.Node));
        Assert.Equal(0, tracker.Pending);
    }

    [Fact]
    public async Task A_purge_published_while_membership_was_unreadable_waits_on_the_nodes_live_once_it_is_readable()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions());
        var record = tracker.Track("p1", 5, "dev", [], Now, membershipUnknown: true);
        tracker.Observe("edge-1", 5); // acked before membership could be read: remembered
        Assert.False(record.Complete);
        Assert.Equal([PurgeTracker.MembershipUnavailable], record.ToStatus().Missing);
        Assert.True(tracker.HasUnknownMembership);

        // Readable again: edge-1 has applied it, edge-2's membership entry says so, shield-a has not yet.
        tracker.ResolveUnknownMembership([Node("edge-1"), Node("edge-2", applied: 6), Node("shield-a", applied: 4)]);
        Assert.False(record.Complete);
        Assert.Equal(["shield-a"], record.ToStatus().Missing);
        Assert.Equal(["edge-1", "edge-2"], record.ToStatus().Acked.Select(a => a.Node));
        Assert.False(tracker.HasUnknownMembership);

        tracker.Observe("shield-a", 5);
        await record.Completed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(record.ToStatus().Complete);
        Assert.Equal(0, tracker.Pending);

        // Once resolved, a second read changes nothing.
        tracker.ResolveUnknownMembership([Node("edge-9")]);
        Assert.Equal(["edge-1", "edge-2", "shield-a"], record.ToStatus().Acked.Select(a => a.Node));
    }

    [Fact]
    public void A_purge_published_while_membership_was_unreadable_completes_at_once_when_every_live_node_already_applied_it()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions());
        var record = tracker.Track("p1", 5, "dev", [], Now, membershipUnknown: true);
        var other = tracker.Track("p2", 6, "dev", Nodes, Now);
        tracker.ResolveUnknownMembership([Node("edge-1", applied: 9), Node("edge-2", applied: 5)]);
        Assert.True(record.Complete);
        Assert.True(record.Completed.IsCompleted);
        Assert.Equal(["edge-2", "shield-a"], other.ToStatus().Missing); // a purge whose membership was known waits on its own nodes
        Assert.Equal(1, tracker.Pending);
    }

    [Fact]
    public void Acknowledgements_and_membership_that_arrived_before_the_purge_was_tracked_count()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions());
        tracker.Observe("edge-1", 7);
        var record = tracker.Track("p1", 7, "dev", [Node("edge-1"), Node("edge-2", applied: 7)], Now);

        Assert.True(record.Complete);
        Assert.True(record.Completed.IsCompleted);
        Assert.Equal(0, tracker.Pending);
    }

    [Fact]
    public void Only_purges_still_waiting_stay_pending_and_forgotten_purges_leave_with_them()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions { RecordLimit = 100 });
        for (ulong seq = 1; seq <= 1_000; seq++) tracker.Track($"p{seq}", seq, "dev", Nodes, Now);
        Assert.Equal(100, tracker.Pending);

        // One acknowledgement of the stream's end from every node completes every remembered purge.
        foreach (var n in Nodes) tracker.Observe(n.Node, 1_000);
        Assert.Equal(0, tracker.Pending);
        Assert.True(tracker.Find("p1000")!.Complete);
        Assert.Null(tracker.Find("p1"));
    }

    [Fact]
    public void A_purge_no_node_was_live_for_is_complete_at_once()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions());
        var record = tracker.Track("p1", 1, "dev", [], Now);
        Assert.True(record.Complete);
        Assert.True(record.Completed.IsCompleted);
    }

    [Fact]
    public async Task A_purge_also_waits_for_its_keys_instances_and_not_for_another_keys()
    {
        var tracker = new PurgeTracker(new PurgeApiOptions());
        tracker.ObserveInstance("apps", "app-b", 9); // acknowledged before the purge was tracked: counts
        var record = tracker.Track("p1", 9, "apps", [Node("edge-1")], Now, ["app-a", "app-b", "hung"]);
        tracker.Observe("edge-1", 9);

        tracker.ObserveInstance("other", "app-a", 100); // another key's instance of the same name
        Assert.False(record.Complete);
        tracker.ObserveInstance("apps", "app-a", 8);    // an older event
        Assert.Equal(["app-a", "hung"], record.ToStatus().Instances!.Missing);

        tracker.ObserveInstance("apps", "app-a", 10);
        Assert.False(record.Complete);
        tracker.ForgetInstance("apps", "hung");          // its lease ended
        await record.Completed.WaitAsync(TimeSpan.FromSeconds(5));

        var status = record.ToStatus();
        Assert.True(status.Complete);
        Assert.Equal(["app-a", "app-b"], status.Instances!.Acked.Select(a => a.Instance));
        Assert.Equal(["hung"], status.Instances.Left);
        Assert.Empty(status.Instances.Missing);
        Assert.Equal(0, tracker.Pending);
    }
}
