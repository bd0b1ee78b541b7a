using System.Net;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>
/// The edge is the trust boundary (issue: hardening): forwarding fields a client sends never reach
/// the origin, where a forwarding-aware origin (<see cref="TestOrigin.MapLinks"/>) would build what
/// is stored for everyone from them; each tier sets its own, and shields trust an edge's only with
/// the tier secret.
/// </summary>
[Collection(CdnFixtureGroup.Name)]
public sealed class ForwardingTests(Topology cdn)
{
    private static string NewPath() => "/fwd/" + Guid.NewGuid().ToString("N");

    private const string Plain = "<script src=\"http://www.example.com/static/app.js\"></script> GET";

    [Theory]
    [InlineData("Forwarded", "host=evil.com")]
    [InlineData("Forwarded", "for=1.2.3.4;proto=https;host=evil.com")]
    [InlineData("X-Forwarded-Proto", "https")]
    [InlineData("X-Forwarded-Prefix", "//evil.com")]
    [InlineData("X-Forwarded-Ssl", "on")]
    [InlineData("Front-End-Https", "on")]
    [InlineData("X-Url-Scheme", "https")]
    [InlineData("X-Forwarded-Uri", "/evil")]
    [InlineData("X-Original-Method", "DELETE")]
    [InlineData("X-Forwarded-Host", "evil.com")]
    public async Task A_client_forwarding_field_never_changes_what_other_clients_are_served(string field, string value)
    {
        var path = NewPath();
        cdn.Origin.MapLinks(path);
        using var attack = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation(field, value));
        Assert.Equal(Plain, await attack.BodyAsync());

        // Another client, at both edges: an edge hit, and a shield hit through the other edge.
        using var victim = await cdn.GetAsync(0, path);
        using var other = await cdn.GetAsync(1, path);
        Assert.Equal(Plain, await victim.BodyAsync());
        Assert.Equal(Plain, await other.BodyAsync());
        Assert.Equal(1, cdn.Origin.Count(path));
        var seen = cdn.Origin.Requests(path)[0].Headers;
        Assert.False(seen.TryGetValue(field, out var reached) && reached == value, $"the client's {field} reached the origin");
    }

    [Fact]
    public async Task A_client_X_Forwarded_Proto_cannot_make_the_origin_redirect_everyone()
    {
        // Behind TLS, "X-Forwarded-Proto: http" would store an origin's redirect to https for every
        // client (a redirect loop). Here the client uses plain http, so the attack is the opposite
        // claim; either way the origin sees the scheme the client really used.
        var path = NewPath();
        cdn.Origin.MapLinks(path, requireHttps: true);
        using var attack = await cdn.GetAsync(0, path, configure: m => m.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https"));
        Assert.Equal(HttpStatusCode.MovedPermanently, attack.StatusCode);
        Assert.Equal("http", cdn.Origin.Requests(path)[0].Headers["X-Forwarded-Proto"]);
    }

    [Fact]
    public async Task The_edge_sets_its_own_forwarding_fields_and_drops_the_clients()
    {
        var path = NewPath();
        cdn.Origin.MapLinks(path);
        using var r = await cdn.GetAsync(0, path, configure: m =>
        {
            m.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
            m.Headers.TryAddWithoutValidation("True-Client-IP", "203.0.113.10");
            m.Headers.TryAddWithoutValidation("X-Real-IP", "203.0.113.11");
            m.Headers.TryAddWithoutValidation("EdgeCache-Tier-Auth", Topology.TierSecrets[0]);
        });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var seen = cdn.Origin.Requests(path)[0].Headers;
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("http", seen["X-Forwarded-Proto"]);
        Assert.Equal(Topology.Site, seen["X-Forwarded-Host"]);
        Assert.False(seen.ContainsKey("Forwarded"));
        Assert.False(seen.ContainsKey("True-Client-IP"));
        Assert.False(seen.ContainsKey("X-Real-IP"));
        Assert.False(seen.ContainsKey("EdgeCache-Tier-Auth"));
    }

    [Fact]
    public async Task A_host_can_use_Forwarded_and_trust_X_Forwarded_For_from_configured_proxies()
    {
        var path = NewPath();
        cdn.Origin.MapLinks(path);
        using var r = await cdn.GetAsync(0, path, host: Topology.ForwardedSite, configure: m =>
        {
            m.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9, not-an-address");
            m.Headers.TryAddWithoutValidation("Forwarded", "for=198.51.100.1;host=evil.com");
        });
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var seen = cdn.Origin.Requests(path)[0].Headers;
        Assert.Equal("203.0.113.9, 127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal($"for=203.0.113.9, for=127.0.0.1;proto=http;host={Topology.ForwardedSite}", seen["Forwarded"]);
    }

    [Fact]
    public async Task A_shield_keeps_forwarding_fields_only_from_a_request_with_a_tier_secret()
    {
        async Task<IReadOnlyDictionary<string, string>> AskShield(string? secret)
        {
            var path = NewPath();
            cdn.Origin.MapLinks(path);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(cdn.ShieldUri(0), path));
            request.Headers.Host = Topology.Site;
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "198.51.100.7");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.com");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", "//evil.com");
            if (secret is not null) request.Headers.TryAddWithoutValidation("EdgeCache-Tier-Auth", secret);
            using var response = await cdn.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return cdn.Origin.Requests(path)[0].Headers;
        }

        foreach (var untrusted in new[] { null, "wrong-secret-0123456789abcdef" })
        {
            var seen = await AskShield(untrusted);
            Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
            Assert.Equal(Topology.Site, seen["X-Forwarded-Host"]);
            Assert.False(seen.ContainsKey("X-Forwarded-Prefix"));
            Assert.False(seen.ContainsKey("EdgeCache-Tier-Auth"));
        }

        // Both secrets are accepted while one is rotated out; only what an edge sets is kept.
        foreach (var secret in Topology.TierSecrets)
        {
            var seen = await AskShield(secret);
            Assert.Equal("198.51.100.7", seen["X-Forwarded-For"]);
            Assert.Equal("evil.com", seen["X-Forwarded-Host"]);
            Assert.False(seen.ContainsKey("X-Forwarded-Prefix"));
            Assert.False(seen.ContainsKey("EdgeCache-Tier-Auth"));
        }
    }
}
