using System.Net;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// Two replicating shields on a real nats-server with the purge API, no edges (the tests ask the shields as an edge
/// would, with the tier secret). shield-a reaches NATS through a <see cref="TcpProxy"/> that can stall, and its lease
/// runs on a clock the test holds still: stalled, it hears no purge yet still counts itself current, as a node does
/// for the moment between a purge's publication and its delivery.
/// </summary>
public sealed class ReplicationPurgeTopology() : Topology(shields: 2, edges: 0)
{
    public NatsServer Nats { get; private set; } = null!;

    /// <summary>shield-a's link to NATS.</summary>
    public TcpProxy ALink { get; private set; } = null!;

    public TcpProxy ATraffic { get; } = new(0);

    public TcpProxy BTraffic { get; } = new(0);

    public WebApplication Api { get; private set; } = null!;

    public Uri ApiUri { get; private set; } = null!;

    private readonly string _data = Path.Combine(Path.GetTempPath(), "edgecache-rep-" + Guid.NewGuid().ToString("N"));

    public override async Task InitializeAsync()
    {
        Nats = await NatsServer.StartAsync();
        ALink = new TcpProxy(Nats.Port);
        (Api, ApiUri) = await InvalidationTopology.StartApiAsync(Nats.Url);
        await base.InitializeAsync();
        BTraffic.TargetPort = ShieldUri(1).Port;
        await WaitUntilAsync(
            async () => await Shields[0].StatusValueAsync<bool>("invalidation", "current") && await Shields[1].StatusValueAsync<bool>("invalidation", "current"),
            "both shields current",
            TimeSpan.FromSeconds(15));
    }

    protected override Dictionary<string, string?> ShieldConfig(string id)
    {
        var c = InvalidationTopology.WithNats(base.ShieldConfig(id), id == "shield-a" ? ALink.Url : Nats.Url, Path.Combine(_data, id));
        c["EdgeCache:Replication:Enabled"] = "true";
        c["EdgeCache:Replication:Cluster"] = "peers";
        c["ReverseProxy:Clusters:peers:Destinations:shield-a:Address"] = $"http://127.0.0.1:{ATraffic.Port}/";
        c["ReverseProxy:Clusters:peers:Destinations:shield-b:Address"] = $"http://127.0.0.1:{BTraffic.Port}/";
        if (id == "shield-b") ATraffic.TargetPort = ShieldUri(0).Port;
        return c;
    }

    protected override void ConfigureNode(NodeRole role, WebApplicationBuilder builder)
    {
        if (builder.Configuration["EdgeCache:NodeId"] == "shield-a") builder.Services.AddSingleton(new EdgeCache.Proxy.Invalidation.InvalidationClock(new FakeTimeProvider(DateTimeOffset.UtcNow)));
    }

    /// <summary>A GET straight to a shield, as an edge sends it (with the tier secret).</summary>
    public Task<HttpResponseMessage> ShieldGetAsync(int shield, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(ShieldUri(shield), path));
        request.Headers.Host = Site;
        request.Headers.TryAddWithoutValidation("EdgeCache-Tier-Auth", TierSecrets[0]);
        return Client.SendAsync(request);
    }

    public async Task PurgeUrlAsync(string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(ApiUri, "/purge"))
        {
            Content = new StringContent($$"""{"urls":["{{url}}"]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
        using var response = await Client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Api.StopAsync();
        await Api.DisposeAsync();
        foreach (var p in new[] { ALink, ATraffic, BTraffic }) await p.DisposeAsync();
        await Nats.DisposeAsync();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Read-your-purge across replication: a copy filled from a peer keeps the peer's stored sequence.</summary>
public sealed class ReplicationPurgeTests(ReplicationPurgeTopology cdn) : IClassFixture<ReplicationPurgeTopology>
{
    [Fact]
    public async Task A_peer_copy_from_before_a_purge_this_shield_applied_is_not_kept_and_the_object_is_fetched_anew()
    {
        var path = $"/replicated-purge/{Guid.NewGuid():N}";
        var version = 0;
        cdn.Origin.Map(path, async ctx =>
        {
            ctx.Response.Headers.CacheControl = "max-age=600";
            await ctx.Response.WriteAsync("v" + Interlocked.Increment(ref version));
        });

        // shield-a fetches v1 and pushes it to shield-b, which fills it from shield-a.
        var pushed = cdn.Shields[0].Metric("edgecache.replication.pushes", ("outcome", "stored"));
        using (var first = await cdn.ShieldGetAsync(0, path))
        {
            Assert.Equal("v1", await first.Content.ReadAsStringAsync());
        }

        await Topology.WaitUntilAsync(() => cdn.Shields[0].Metric("edgecache.replication.pushes", ("outcome", "stored")) == pushed + 1, TimeSpan.FromSeconds(10), "shield-a's push stored");

        cdn.ALink.Stall();
        try
        {
            // The purge reaches shield-b (its replica goes) but not shield-a, which still holds v1 and counts itself current.
            var applied = await cdn.Shields[1].AppliedSeqAsync();
            await cdn.PurgeUrlAsync($"http://{Topology.Site}{path}");
            await Topology.WaitUntilAsync(async () => await cdn.Shields[1].AppliedSeqAsync() > applied, "shield-b applied the purge");
            Assert.True(await cdn.Shields[0].StatusValueAsync<bool>("invalidation", "current"));

            // shield-b's miss asks shield-a, which answers with v1 stored before the purge: not kept, fetched anew.
            var fills = cdn.Shields[1].Metric("edgecache.replication.fills", ("outcome", "hit"));
            using var r = await cdn.ShieldGetAsync(1, path);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("v2", await r.Content.ReadAsStringAsync());
            Assert.Equal(fills + 1, cdn.Shields[1].Metric("edgecache.replication.fills", ("outcome", "hit")));
            Assert.Equal(2, cdn.Origin.Count(path));
        }
        finally
        {
            cdn.ALink.Resume();
        }
    }
}
