using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Proxy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.FunctionalTests;

/// <summary>A bad setting stops the node at start-up with a message that names the setting.</summary>
public sealed class ConfigurationTests
{
    private static async Task<string> StartFailure(Dictionary<string, string?> settings, NodeRole role = NodeRole.Edge)
    {
        var config = new Dictionary<string, string?>
        {
            ["EdgeCache:NodeId"] = "edge-x",
            ["EdgeCache:Listen:Traffic:0"] = "http://127.0.0.1:0",
        };
        foreach (var (k, v) in settings) config[k] = v;
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            // Validation runs when the pipeline is built or, at the latest, when the host starts.
            await using var app = EdgeCacheNode.Build(role, [], b =>
            {
                b.Configuration.Sources.Clear();
                b.Configuration.AddInMemoryCollection(config);
                b.Logging.ClearProviders();
            });
            await app.StartAsync();
        });
        return error.Message;
    }

    [Theory]
    [InlineData("EdgeCache:MemoryBudgetBytes", "0", "EdgeCache:MemoryBudgetBytes must be positive")]
    [InlineData("EdgeCache:NodeId", "two words", "EdgeCache:NodeId must be a non-empty name")]
    [InlineData("EdgeCache:HeuristicFraction", "1.5", "EdgeCache:HeuristicFraction must be between 0 and 1")]
    [InlineData("EdgeCache:Hosts:www.example.com:ConnectTimeout", "-00:00:01", "EdgeCache:Hosts:www.example.com: ConnectTimeout must be positive")]
    [InlineData("EdgeCache:Defaults:IgnoreQueryParameters:0", "a*b", "EdgeCache:Defaults: IgnoreQueryParameters entry 'a*b'")]
    [InlineData("EdgeCache:Defaults:StripCdnCacheControl", "true", "EdgeCache:Defaults:StripCdnCacheControl is not a setting: EdgeCache:StripCdnCacheControl is the default")]
    [InlineData("EdgeCache:Listen:Traffic:0", "ftp://127.0.0.1:1", "'ftp://127.0.0.1:1' is not an http:// or https:// URL")]
    [InlineData("EdgeCache:Listen:Traffic:0", "https://127.0.0.1:0", "EdgeCache:Listen:Certificates (or the single EdgeCache:Listen:CertificatePath) is required for the https endpoint")]
    [InlineData("EdgeCache:Listen:Http2MaxStreams", "0", "EdgeCache:Listen:Http2MaxStreams must be 1-1000")]
    [InlineData("EdgeCache:Listen:Http2MaxHeaderFieldBytes", "100", "EdgeCache:Listen:Http2MaxHeaderFieldBytes must be 4096-1048576")]
    [InlineData("EdgeCache:Listen:MaxRequestHeadersBytes", "0", "EdgeCache:Listen:MaxRequestHeadersBytes must be 4096-1048576")]
    [InlineData("EdgeCache:Listen:MaxRequestHeaderCount", "-1", "EdgeCache:Listen:MaxRequestHeaderCount must be 1-10000")]
    [InlineData("EdgeCache:ImageWorkers:MemoryLimitBytes", "1048576", "EdgeCache:ImageWorkers: MemoryLimitBytes must be 0 (no limit) or at least 134217728")]
    [InlineData("EdgeCache:ImageWorkers:Threads", "0", "EdgeCache:ImageWorkers: Threads must be 1-64 (got 0)")]
    [InlineData("EdgeCache:ImageWorkers:WebpEffort", "7", "EdgeCache:ImageWorkers: WebpEffort must be 0-6 (got 7)")]
    [InlineData("EdgeCache:Defaults:Images:AvifQualityScale", "3", "Images:AvifQualityScale must be above 0 and at most 2 (got 3)")]
    [InlineData("EdgeCache:Replication:Enabled", "true", "EdgeCache:Replication:Enabled applies to shields only")]
    public async Task A_bad_setting_names_itself(string key, string value, string expected)
    {
        var message = await StartFailure(new() { [key] = value });
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "EdgeCache:Replication:Enabled needs EdgeCache:TierSecrets")]
    [InlineData("0", "EdgeCache:Replication: QueueLength must be 1-1000000 (got 0)")]
    public async Task A_shield_that_replicates_needs_a_tier_secret_and_a_queue(string? queueLength, string expected)
    {
        var settings = new Dictionary<string, string?> { ["EdgeCache:Replication:Enabled"] = "true" };
        if (queueLength is not null)
        {
            settings["EdgeCache:Replication:QueueLength"] = queueLength;
            settings["EdgeCache:TierSecrets:0"] = Topology.TierSecrets[0];
        }

        Assert.Contains(expected, await StartFailure(settings, NodeRole.Shield), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lease_that_could_outlive_the_membership_entry_is_refused()
    {
        // Cut off from NATS, a node must stop trusting its store (Lease) before its membership entry can
        // expire (MembershipTtl), or a purge could complete without it while it still serves the old copy.
        var message = await StartFailure(new()
        {
            ["EdgeCache:Invalidation:NatsUrl"] = "nats://127.0.0.1:4222",
            ["EdgeCache:Invalidation:Lease"] = "00:00:09",
            ["EdgeCache:Invalidation:AnnounceInterval"] = "00:00:02",
            ["EdgeCache:Invalidation:MembershipTtl"] = "00:00:10",
        });
        Assert.Contains("Lease (00:00:09) plus AnnounceInterval (00:00:02) must not exceed MembershipTtl (00:00:10)", message, StringComparison.Ordinal);
    }
}

public sealed class UnusableDiskTests
{
    [Fact]
    public async Task A_store_that_cannot_be_opened_leaves_the_node_serving_and_saying_so_until_the_disk_recovers()
    {
        var file = Path.GetTempFileName(); // a regular file where the store's directory should be
        try
        {
            await using var app = EdgeCacheNode.Build(NodeRole.Edge, [], b =>
            {
                b.Configuration.Sources.Clear();
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["EdgeCache:NodeId"] = "edge-x",
                    ["EdgeCache:Listen:Traffic:0"] = "http://127.0.0.1:0",
                    ["EdgeCache:Listen:Admin"] = "http://127.0.0.1:0",
                    ["EdgeCache:Disk:Directory"] = file,
                    ["EdgeCache:Disk:ReopenInterval"] = "00:00:00.200",
                });
                b.Logging.ClearProviders();
            });
            await app.StartAsync();
            var health = await app.HealthAsync();
            Assert.Contains("disk: failing: could not open the store", health, StringComparison.Ordinal);

            // The disk comes back (the file in the way is gone): the node opens its store again.
            File.Delete(file);
            await Topology.WaitUntilAsync(async () => (health = await app.HealthAsync()).Contains("disk: ok", StringComparison.Ordinal), "the store is open again", TimeSpan.FromSeconds(15));
            Assert.Contains("disk: ok", health, StringComparison.Ordinal);
            await app.StopAsync();
        }
        finally
        {
            if (File.Exists(file)) File.Delete(file);
            else if (Directory.Exists(file)) Directory.Delete(file, recursive: true);
        }
    }
}
