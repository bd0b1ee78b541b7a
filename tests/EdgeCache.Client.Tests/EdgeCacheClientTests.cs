using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Tests;

/// <summary>The client's mechanics against a scripted handler: retries keep the call's Idempotency-Key,
/// refusals are typed and not retried, bodies and answers map to and from the API's JSON.</summary>
public sealed class EdgeCacheClientTests
{
    private const string Key = "publisher-secret-key-123";
    private const string Accepted = "{\"id\":\"p1\",\"sequence\":7}";

    private static EdgeCacheClient Client(FakeApi api, Action<EdgeCacheClientOptions>? tweak = null)
    {
        var services = new ServiceCollection();
        services.AddEdgeCacheClient(o =>
        {
            o.BaseAddress = new Uri("http://purge.test/api");
            o.ApiKey = Key;
            o.RetryDelay = TimeSpan.Zero; // the retry mechanics, not its backoff, are under test
            tweak?.Invoke(o);
        }).ConfigurePrimaryHttpMessageHandler(() => api);
        return services.BuildServiceProvider().GetRequiredService<EdgeCacheClient>();
    }

    [Fact]
    public async Task A_503_is_retried_with_the_same_idempotency_key_and_body()
    {
        var api = new FakeApi(FakeApi.Problem(HttpStatusCode.ServiceUnavailable, "Invalidation stream unavailable"), FakeApi.Json(HttpStatusCode.Accepted, Accepted));

        var result = await Client(api).PurgeAsync(PurgeSelector.ForTags("product-42"));

        Assert.Equal(("p1", 7UL), (result.Id, result.Sequence));
        var requests = api.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.NotNull(requests[0].IdempotencyKey);
        Assert.Equal(requests[0].IdempotencyKey, requests[1].IdempotencyKey);
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Equal("http://purge.test/api/purge", requests[0].Uri.AbsoluteUri);
        Assert.Equal("Bearer " + Key, requests[0].Authorization);
    }

    [Fact]
    public async Task A_connection_failure_is_retried_with_the_same_idempotency_key()
    {
        var api = new FakeApi(FakeApi.Throw(new HttpRequestException("connection refused")), FakeApi.Json(HttpStatusCode.Accepted, Accepted));

        await Client(api).PurgeAsync(PurgeSelector.ForUrls("https://www.example.com/a"));

        var requests = api.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Equal(requests[0].IdempotencyKey, requests[1].IdempotencyKey);
    }

    [Fact]
    public async Task A_409_in_flight_is_retried_and_its_replay_reported()
    {
        var api = new FakeApi(
            FakeApi.Problem(HttpStatusCode.Conflict, "Request in progress", retryAfter: "0"),
            r =>
            {
                var response = FakeApi.Json(HttpStatusCode.Accepted, Accepted)(r);
                response.Headers.Add("Idempotent-Replayed", "true");
                return response;
            });

        var result = await Client(api).PurgeAsync(PurgeSelector.ForTags("a"));

        Assert.True(result.Replayed);
        Assert.Equal(2, api.Requests.Count);
    }

    [Fact]
    public async Task Each_call_has_its_own_idempotency_key_unless_given_one()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.Accepted, Accepted));
        var client = Client(api);

        await client.PurgeAsync(PurgeSelector.ForTags("a"));
        await client.PurgeAsync(PurgeSelector.ForTags("a"));
        await client.PurgeAsync(PurgeSelector.ForTags("a"), new PurgeOptions { IdempotencyKey = "job-2026-12-01" });

        var keys = api.Requests.Select(r => r.IdempotencyKey).ToArray();
        Assert.NotEqual(keys[0], keys[1]);
        Assert.Equal("job-2026-12-01", keys[2]);
    }

    [Fact]
    public async Task Retries_stop_after_MaxRetries_and_a_429_becomes_a_rate_limited_exception_with_retry_after()
    {
        var api = new FakeApi(FakeApi.Problem(HttpStatusCode.TooManyRequests, "Too many requests", retryAfter: "0"));

        var ex = await Assert.ThrowsAsync<EdgeCacheRateLimitedException>(() => Client(api, o => o.MaxRetries = 2).PurgeAsync(PurgeSelector.ForTags("a")));

        Assert.Equal(3, api.Requests.Count);
        Assert.Equal(TimeSpan.Zero, ex.RetryAfter);
        Assert.Equal(HttpStatusCode.TooManyRequests, ex.StatusCode);
        Assert.Equal("Too many requests", ex.Problem!.Title);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, typeof(EdgeCacheApiException))]
    [InlineData(HttpStatusCode.Unauthorized, typeof(EdgeCacheUnauthorizedException))]
    [InlineData(HttpStatusCode.Forbidden, typeof(EdgeCacheForbiddenException))]
    [InlineData(HttpStatusCode.RequestEntityTooLarge, typeof(EdgeCachePayloadTooLargeException))]
    [InlineData(HttpStatusCode.UnprocessableEntity, typeof(EdgeCacheIdempotencyKeyReusedException))]
    public async Task Refusals_are_typed_carry_the_problem_and_are_not_retried(HttpStatusCode status, Type expected)
    {
        var api = new FakeApi(FakeApi.Problem(status, "Refused"));

        var ex = await Assert.ThrowsAsync(expected, () => Client(api).PurgeAsync(PurgeSelector.ForHosts("www.example.com")));

        var apiEx = Assert.IsAssignableFrom<EdgeCacheApiException>(ex);
        Assert.Single(api.Requests);
        Assert.Equal(status, apiEx.StatusCode);
        Assert.Equal(("Refused", "Refused (detail)", (int)status), (apiEx.Problem!.Title, apiEx.Problem.Detail, apiEx.Problem.Status));
        Assert.Equal("00-abc", apiEx.Problem.Extensions["traceId"].GetString());
        Assert.Contains("Refused (detail)", apiEx.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, apiEx.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_without_a_problem_body_is_still_typed()
    {
        var api = new FakeApi(_ => new HttpResponseMessage(HttpStatusCode.Forbidden) { Content = new StringContent("<html>nope</html>") });

        var ex = await Assert.ThrowsAsync<EdgeCacheForbiddenException>(() => Client(api).PurgeAsync(PurgeSelector.ForTags("a")));

        Assert.Null(ex.Problem);
    }

    [Fact]
    public async Task Every_selector_and_the_wait_are_sent_as_the_api_reads_them_and_the_status_is_read_back()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.OK, "{\"id\":\"p2\",\"sequence\":9,\"complete\":false,\"acked\":[{\"node\":\"edge-1\",\"ms\":5.25}],\"missing\":[\"edge-2\"]}"));
        var selector = PurgeSelector.ForUrls(new Uri("https://www.example.com/a?b=1")) with
        {
            Prefixes = ["https://www.example.com/img/"],
            Tags = ["t1"],
            Hosts = ["img.example.com"],
        };

        var result = await Client(api).PurgeAsync(selector, new PurgeOptions { Soft = true, Wait = true, WaitTimeout = TimeSpan.FromSeconds(2) });

        using var sent = JsonDocument.Parse(api.Requests.Single().Body);
        Assert.Equal(
            "{\"urls\":[\"https://www.example.com/a?b=1\"],\"prefixes\":[\"https://www.example.com/img/\"],\"tags\":[\"t1\"],\"hosts\":[\"img.example.com\"],\"soft\":true,\"wait\":true,\"timeoutMs\":2000}",
            JsonSerializer.Serialize(sent.RootElement));
        Assert.True(result.Waited);
        Assert.False(result.Complete);
        Assert.Equal([new NodeAck("edge-1", TimeSpan.FromMilliseconds(5.25))], result.Acked);
        Assert.Equal(["edge-2"], result.Missing);
        Assert.False(result.Replayed);
    }

    [Fact]
    public async Task A_ttl_change_sends_max_age_in_seconds_and_everything_as_all()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.Accepted, Accepted));

        var result = await Client(api).SetTtlAsync(PurgeSelector.Everything, TimeSpan.FromMinutes(5));

        Assert.False(result.Waited);
        var (_, _, body, uri) = api.Requests.Single();
        Assert.Equal("{\"all\":true,\"maxAge\":300}", body);
        Assert.Equal("http://purge.test/api/ttl", uri.AbsoluteUri);
    }

    [Fact]
    public async Task An_empty_selector_is_refused_before_any_request()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.Accepted, Accepted));

        await Assert.ThrowsAsync<ArgumentException>(() => Client(api).PurgeAsync(new PurgeSelector()));

        Assert.Empty(api.Requests);
    }

    [Fact]
    public void Missing_settings_stop_start_up_with_messages_naming_them()
    {
        var services = new ServiceCollection();
        services.AddEdgeCacheClient(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Publisher:Cdn:AttemptTimeout"] = "00:00:30",
            ["Publisher:Cdn:Timeout"] = "00:00:10",
            ["Publisher:Cdn:MaxRetries"] = "11",
        }).Build().GetSection("Publisher:Cdn"));

        var ex = Assert.Throws<OptionsValidationException>(() => services.BuildServiceProvider().GetRequiredService<IOptions<EdgeCacheClientOptions>>().Value);

        Assert.Contains(ex.Failures, f => f.StartsWith("Publisher:Cdn:BaseAddress is required", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("Publisher:Cdn:ApiKey is required", StringComparison.Ordinal));
        Assert.Contains("Publisher:Cdn:Timeout must be at least AttemptTimeout (00:00:30).", ex.Failures);
        Assert.Contains("Publisher:Cdn:MaxRetries must be between 0 and 10.", ex.Failures);
    }

    [Fact]
    public void A_bad_key_is_named_but_never_shown()
    {
        var errors = new EdgeCacheClientOptions { BaseAddress = new Uri("ftp://purge.test/"), ApiKey = "secret with spaces" }.Validate().ToList();

        Assert.Equal(
            ["EdgeCacheClient:BaseAddress 'ftp://purge.test/' is not an absolute http:// or https:// URL.", "EdgeCacheClient:ApiKey must be visible ASCII without spaces (the value is not shown)."],
            errors);
    }

    [Fact]
    public void Valid_settings_pass()
    {
        Assert.Empty(new EdgeCacheClientOptions { BaseAddress = new Uri("https://purge.test/"), ApiKey = Key }.Validate());
    }
}
