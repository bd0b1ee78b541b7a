using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Nats;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>The purge API's Idempotency-Key against a real nats-server: a repeat is the first call's
/// purge and no second event (the stream's last sequence does not move).</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class IdempotencyKeyTests(InvalidationTopology cdn)
{
    private async Task<(int Status, string Body, bool Replayed)> PostAsync(string json, string? idempotencyKey, string key = InvalidationTopology.AllKey, string path = "/purge")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cdn.ApiUri, path)) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (idempotencyKey is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        using var response = await cdn.Client.SendAsync(request);
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var v) && v.Single() == "true";
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), replayed);
    }

    private Task<ulong> LastSequenceAsync() => cdn.Api.Services.GetRequiredService<InvalidationBus>().StreamStateAsync(CancellationToken.None).ContinueWith(t => t.Result.Last, TaskScheduler.Default);

    private static string Key() => Guid.NewGuid().ToString("D");

    [Fact]
    public async Task A_repeated_key_replays_the_first_answer_without_a_second_event_and_another_body_is_422()
    {
        var key = Key();
        var first = await PostAsync("{\"tags\":[\"idem-1\"]}", key);
        Assert.Equal(202, first.Status);
        Assert.False(first.Replayed);
        var last = await LastSequenceAsync();
        Assert.Equal(JsonDocument.Parse(first.Body).RootElement.GetProperty("sequence").GetUInt64(), last);

        var again = await PostAsync("{\"tags\":[\"idem-1\"]}", key);
        Assert.Equal((202, first.Body, true), again);
        Assert.Equal(last, await LastSequenceAsync());

        var other = await PostAsync("{\"tags\":[\"idem-2\"]}", key);
        Assert.Equal(422, other.Status);
        Assert.Contains("Idempotency-Key reused", other.Body, StringComparison.Ordinal);
        Assert.Equal(422, (await PostAsync("{\"tags\":[\"idem-1\"],\"maxAge\":5}", key, path: "/ttl")).Status);
        Assert.Equal(last, await LastSequenceAsync());

        // Without a key nothing is remembered: the same body is a new purge.
        Assert.Equal(202, (await PostAsync("{\"tags\":[\"idem-1\"]}", null)).Status);
        Assert.Equal(last + 1, await LastSequenceAsync());
    }

    [Fact]
    public async Task A_repeated_waited_purge_answers_the_same_purge_with_its_progress()
    {
        var key = Key();
        var body = "{\"tags\":[\"idem-wait\"],\"wait\":true,\"timeoutMs\":10000}";
        var first = await PostAsync(body, key);
        Assert.Equal(200, first.Status);
        var last = await LastSequenceAsync();

        var again = await PostAsync(body, "\"" + key + "\""); // the draft's quoted form is the same key
        Assert.Equal(200, again.Status);
        Assert.True(again.Replayed);
        using var a = JsonDocument.Parse(first.Body);
        using var b = JsonDocument.Parse(again.Body);
        Assert.Equal(a.RootElement.GetProperty("id").GetString(), b.RootElement.GetProperty("id").GetString());
        Assert.Equal(a.RootElement.GetProperty("sequence").GetUInt64(), b.RootElement.GetProperty("sequence").GetUInt64());
        Assert.True(b.RootElement.GetProperty("complete").GetBoolean(), again.Body);
        Assert.Equal(last, await LastSequenceAsync());
    }

    [Fact]
    public async Task Keys_are_scoped_to_the_api_key()
    {
        var key = Key();
        var all = await PostAsync("{\"hosts\":[\"www.example.com\"],\"soft\":true}", key);
        var site = await PostAsync("{\"hosts\":[\"www.example.com\"],\"soft\":true}", key, InvalidationTopology.SiteKey);

        Assert.Equal((202, false), (all.Status, all.Replayed));
        Assert.Equal((202, false), (site.Status, site.Replayed));
        Assert.NotEqual(JsonDocument.Parse(all.Body).RootElement.GetProperty("id").GetString(), JsonDocument.Parse(site.Body).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_refused_request_is_not_remembered()
    {
        var key = Key();
        Assert.Equal(400, (await PostAsync("{\"tags\":[\"has space\"]}", key)).Status);
        Assert.Equal(403, (await PostAsync("{\"hosts\":[\"img.example.com\"]}", key, InvalidationTopology.SiteKey)).Status);

        var accepted = await PostAsync("{\"tags\":[\"idem-after-400\"]}", key);
        Assert.Equal((202, false), (accepted.Status, accepted.Replayed));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("")]
    public async Task An_invalid_key_is_400_problem_json(string idempotencyKey)
    {
        var last = await LastSequenceAsync();
        var (status, body, _) = await PostAsync("{\"tags\":[\"idem-bad\"]}", idempotencyKey);

        Assert.Equal(400, status);
        Assert.Contains("Invalid Idempotency-Key", body, StringComparison.Ordinal);
        Assert.Equal(last, await LastSequenceAsync());
    }

    [Fact]
    public async Task A_256_character_key_is_400()
    {
        Assert.Equal(202, (await PostAsync("{\"tags\":[\"idem-long\"]}", new string('k', 255))).Status);
        Assert.Equal(400, (await PostAsync("{\"tags\":[\"idem-long\"]}", new string('k', 256))).Status);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_header_and_its_answers()
    {
        using var doc = JsonDocument.Parse(await cdn.Client.GetStringAsync(new Uri(cdn.ApiUri, "/openapi.json")));
        var purge = doc.RootElement.GetProperty("paths").GetProperty("/purge").GetProperty("post");
        Assert.Equal("#/components/parameters/IdempotencyKey", purge.GetProperty("parameters")[0].GetProperty("$ref").GetString());
        Assert.True(purge.GetProperty("responses").TryGetProperty("409", out _));
        Assert.True(purge.GetProperty("responses").TryGetProperty("422", out _));
        var header = doc.RootElement.GetProperty("components").GetProperty("parameters").GetProperty("IdempotencyKey");
        Assert.Equal(255, header.GetProperty("schema").GetProperty("maxLength").GetInt32());
    }
}
