using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Nats;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Membership through an outage, as on the namespaces cluster when the NATS server leading the stream was
/// killed: for longer than <c>MembershipTtl</c> no node could put its entry, so the bucket's MaxAge emptied
/// it while every node was alive. A purge published then, or while the nodes put again one by one, must not
/// be answered complete on the nodes the bucket happens to hold (none, or the first back): it waits on
/// <c>(membership unavailable)</c>, and completes once every node known before the outage has applied it.
/// A real nats-server and purge API; the nodes are membership entries put by hand (a node that applied
/// everything announces the stream's last sequence), so the test decides when they are silent.
/// </summary>
public sealed class MembershipOutageTests : IAsyncLifetime, IDisposable
{
    private NatsServer _nats = null!;
    private WebApplication _api = null!;
    private Uri _apiUri = null!;
    private InvalidationBus _nodes = null!;
    private readonly HttpClient _client = new();

    public async Task InitializeAsync()
    {
        _nats = await NatsServer.StartAsync();
        _api = PurgeApiHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(InvalidationTopology.ApiConfig(_nats.Url));
            builder.Logging.ClearProviders();
        });
        await _api.StartAsync();
        _apiUri = new Uri(_api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        await Topology.WaitUntilAsync(() => _api.Services.GetRequiredService<AckListener>().Ready, TimeSpan.FromSeconds(15), "the purge API connects to NATS");

        // The same bucket settings as the API's (InvalidationTopology.ApiConfig): MembershipTtl 3 s.
        _nodes = new InvalidationBus(new InvalidationOptions { NatsUrl = _nats.Url, MembershipTtl = TimeSpan.FromSeconds(3), RequestTimeout = TimeSpan.FromSeconds(5) }, "membership-outage-test");
        await Topology.WaitUntilAsync(
            async () =>
            {
                try
                {
                    await _nodes.EnsureAsync(CancellationToken.None);
                    return true;
                }
                catch (Exception ex) when (ex is NATS.Client.Core.NatsException or OperationCanceledException)
                {
                    return false; // the API is creating the same stream and bucket at this moment
                }
            },
            "the test's own connection finds the stream and the bucket",
            TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await _nodes.DisposeAsync();
        await _api.StopAsync();
        await _api.DisposeAsync();
        await _nats.DisposeAsync();
    }

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task A_purge_published_when_every_entry_expired_in_an_outage_waits_until_the_nodes_are_back()
    {
        await using (Announce("edge-a"))
        {
            await WaitForViewAsync(["edge-a"]);
        }

        await WaitForOutageAsync();
        var (id, first) = await PurgeAsync("/outage-empty");
        Assert.False(first.GetProperty("complete").GetBoolean(), "answered complete with no node able to acknowledge it: " + first);
        Assert.Equal([PurgeTracker.MembershipUnavailable], Names(first, "missing"));

        // The node is back (it applied the stream meanwhile): the purge completes, acknowledged by it.
        await using var back = Announce("edge-a");
        var done = await WaitCompleteAsync(id);
        Assert.Equal(["edge-a"], Names(done, "acked"));
    }

    [Fact]
    public async Task A_purge_published_while_the_first_nodes_are_back_waits_for_every_node_known_before_the_outage()
    {
        await using (Announce("edge-a"))
        await using (Announce("edge-b"))
        {
            await WaitForViewAsync(["edge-a", "edge-b"]);
        }

        await WaitForOutageAsync();
        // The view gives a node still silent a MembershipTtl (3 s) from the first put back before it counts
        // it gone, so from edge-a's first put to edge-b's the test must stay well inside that: it waits for
        // edge-a's put itself (reading the bucket back could take seconds, and failed CI this way: edge-b
        // was counted gone and the purge completed on edge-a alone), and the purge waits 300 ms only.
        await using var a = Announce("edge-a");
        await a.FirstPut.WaitAsync(TimeSpan.FromSeconds(15));
        var (id, first) = await PurgeAsync("/outage-partial", timeoutMs: 300);
        // edge-b has not put again yet: it may not have applied this purge, so the purge cannot be complete.
        Assert.False(first.GetProperty("complete").GetBoolean(), "answered complete on the first node back alone: " + first);

        await using var b = Announce("edge-b");
        var done = await WaitCompleteAsync(id);
        Assert.Equal(["edge-a", "edge-b"], Names(done, "acked"));
    }

    [Fact]
    public async Task A_purge_published_when_the_watch_started_on_an_emptied_bucket_waits_for_the_nodes_that_acknowledged_before()
    {
        // The API has never seen a membership entry (its watch started on a bucket an outage had emptied),
        // but a node has acknowledged purges: no node in the bucket is an outage, not an empty cluster.
        await _nodes.AckAsync(new NodeAck { Node = "edge-a", Seq = 0 }, CancellationToken.None);
        await Topology.WaitUntilAsync(() => _api.Services.GetRequiredService<PurgeTracker>().HasHeardFromNodes, TimeSpan.FromSeconds(10), "the API hears edge-a's acknowledgement");
        var (id, first) = await PurgeAsync("/outage-unseen");
        Assert.False(first.GetProperty("complete").GetBoolean(), "answered complete with no node able to acknowledge it: " + first);
        Assert.Equal([PurgeTracker.MembershipUnavailable], Names(first, "missing"));

        await using var back = Announce("edge-a");
        var done = await WaitCompleteAsync(id);
        Assert.Equal(["edge-a"], Names(done, "acked"));
    }

    /// <summary>Puts <paramref name="node"/>'s entry every 100 ms, announcing the stream's last sequence as
    /// applied, until disposed (then silent: no delete, as a node that cannot reach the bucket).</summary>
    private Announcer Announce(string node) => new(_nodes, node);

    private sealed class Announcer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly TaskCompletionSource _firstPut = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes once NATS has stored this node's first entry.</summary>
        public Task FirstPut => _firstPut.Task;

        public Announcer(InvalidationBus bus, string node)
        {
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var state = await bus.StreamStateAsync(_stop.Token);
                        await bus.AnnounceAsync(new NodeInfo { Node = node, Role = "edge", AppliedSeq = state.Last, AnnouncedAt = DateTimeOffset.UtcNow }, _stop.Token);
                        _firstPut.TrySetResult();
                        await Task.Delay(100, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            });
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }

    private Task WaitForViewAsync(string[] nodes) =>
        Topology.WaitUntilAsync(
            () => _api.Services.GetRequiredService<MembershipView>().Live() is { } live && live.Select(n => n.Node).Order(StringComparer.Ordinal).SequenceEqual(nodes),
            TimeSpan.FromSeconds(15),
            "the API's view lists " + string.Join(", ", nodes));

    /// <summary>The bucket's live entries, or -1 when the read has not finished in 5 s: a watch over entries
    /// that expire while it reads them can wait for ever (then the poll tries again).</summary>
    private async Task<int> LiveCountAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            return (await _nodes.LiveNodesAsync(cts.Token)).Count;
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && cts.IsCancellationRequested))
        {
            return -1; // the bus's own bound (RequestTimeout, 5 s here) or this one
        }
    }

    /// <summary>Until every entry has expired from the bucket (its MaxAge) and from the API's view.</summary>
    private Task WaitForOutageAsync() =>
        Topology.WaitUntilAsync(
            async () => await LiveCountAsync() == 0 && _api.Services.GetRequiredService<MembershipView>().Live() is null,
            "every membership entry expired",
            TimeSpan.FromSeconds(15));

    private async Task<(string Id, JsonElement Answer)> PurgeAsync(string path, int timeoutMs = 1000)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_apiUri, "/purge"))
        {
            Content = new StringContent($$"""{"urls":["http://www.example.com{{path}}"],"wait":true,"timeoutMs":{{timeoutMs}}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
        using var response = await _client.SendAsync(request);
        Assert.Equal(200, (int)response.StatusCode);
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (answer.GetProperty("id").GetString()!, answer);
    }

    private async Task<JsonElement> WaitCompleteAsync(string id)
    {
        JsonElement status = default;
        await Topology.WaitUntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_apiUri, "/purge/" + id));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
                using var response = await _client.SendAsync(request);
                status = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
                return status.GetProperty("complete").GetBoolean();
            },
            "the purge completes once the nodes are back",
            TimeSpan.FromSeconds(15));
        return status;
    }

    private static string[] Names(JsonElement answer, string property) =>
        [.. answer.GetProperty(property).EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetProperty("node").GetString()!).Order(StringComparer.Ordinal)];
}
