using System.Text;
using EdgeCache.PurgeApi;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace EdgeCache.Engine.Tests;

/// <summary>What the purge API remembers of Idempotency-Keys: scope, window, cap and the draft's rules (time faked).</summary>
public sealed class IdempotencyStoreTests
{
    private static readonly byte[] BodyA = IdempotencyStore.Fingerprint(InvalidationKind.Purge, "{\"tags\":[\"a\"]}"u8);
    private static readonly byte[] BodyB = IdempotencyStore.Fingerprint(InvalidationKind.Purge, "{\"tags\":[\"b\"]}"u8);

    private static RememberedResponse Answer(string id) => new(202, id, Encoding.UTF8.GetBytes("{\"id\":\"" + id + "\"}"));

    [Fact]
    public void A_repeat_with_the_same_request_replays_the_first_answer_and_another_request_is_a_mismatch()
    {
        var store = new IdempotencyStore(new PurgeApiOptions(), new FakeTimeProvider());
        var (first, entry) = store.Begin("k1", "abc", BodyA);
        Assert.Equal(IdempotencyOutcome.New, first);

        Assert.Equal(IdempotencyOutcome.InFlight, store.Begin("k1", "abc", BodyA).Outcome);
        store.Complete(entry, Answer("p1"));

        var (again, replayed) = store.Begin("k1", "abc", BodyA);
        Assert.Equal(IdempotencyOutcome.Replay, again);
        Assert.Equal("p1", replayed.Response!.PurgeId);
        Assert.Equal(IdempotencyOutcome.Mismatch, store.Begin("k1", "abc", BodyB).Outcome);
    }

    [Fact]
    public void The_same_body_on_the_other_endpoint_is_a_different_request()
    {
        var body = "{\"tags\":[\"a\"],\"maxAge\":5}"u8;
        Assert.NotEqual(IdempotencyStore.Fingerprint(InvalidationKind.Purge, body), IdempotencyStore.Fingerprint(InvalidationKind.Ttl, body));
    }

    [Fact]
    public void Keys_are_scoped_to_the_api_key()
    {
        var store = new IdempotencyStore(new PurgeApiOptions(), new FakeTimeProvider());
        var (_, entry) = store.Begin("k1", "abc", BodyA);
        store.Complete(entry, Answer("p1"));

        Assert.Equal(IdempotencyOutcome.New, store.Begin("k2", "abc", BodyB).Outcome);
    }

    [Fact]
    public void A_key_is_forgotten_when_its_window_ends()
    {
        var clock = new FakeTimeProvider();
        var store = new IdempotencyStore(new PurgeApiOptions { IdempotencyWindow = TimeSpan.FromHours(1) }, clock);
        var (_, entry) = store.Begin("k1", "abc", BodyA);
        store.Complete(entry, Answer("p1"));

        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(IdempotencyOutcome.Replay, store.Begin("k1", "abc", BodyA).Outcome);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(IdempotencyOutcome.New, store.Begin("k1", "abc", BodyB).Outcome);
    }

    [Fact]
    public void An_abandoned_request_is_not_remembered()
    {
        var store = new IdempotencyStore(new PurgeApiOptions(), new FakeTimeProvider());
        var (_, entry) = store.Begin("k1", "abc", BodyA);
        store.Abandon(entry);

        Assert.Equal(IdempotencyOutcome.New, store.Begin("k1", "abc", BodyB).Outcome);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Memory_is_bounded_oldest_forgotten_first()
    {
        var store = new IdempotencyStore(new PurgeApiOptions { IdempotencyKeyLimit = 3 }, new FakeTimeProvider());
        for (var i = 0; i < 5; i++) store.Complete(store.Begin("k1", "key-" + i, BodyA).Entry, Answer("p" + i));

        Assert.Equal(3, store.Count);
        Assert.Equal(IdempotencyOutcome.New, store.Begin("k1", "key-0", BodyA).Outcome);
        Assert.Equal(IdempotencyOutcome.Replay, store.Begin("k1", "key-4", BodyA).Outcome);
    }

    [Theory]
    [InlineData("abc", "abc")]
    [InlineData("\"abc\"", "abc")]
    [InlineData("8e0b5c8e-4f0b-4c47-9a9f-0f1b2d3c4e5f", "8e0b5c8e-4f0b-4c47-9a9f-0f1b2d3c4e5f")]
    public void Valid_idempotency_keys(string header, string key)
    {
        Assert.True(PurgeApiHost.TryParseIdempotencyKey(new StringValues(header), out var parsed));
        Assert.Equal(key, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\"\"")]
    [InlineData("has space")]
    [InlineData("tab\there")]
    [InlineData("caf\u00e9")]
    public void Invalid_idempotency_keys(string header)
    {
        Assert.False(PurgeApiHost.TryParseIdempotencyKey(new StringValues(header), out _));
    }

    [Fact]
    public void An_idempotency_key_is_at_most_255_characters_and_sent_once()
    {
        Assert.True(PurgeApiHost.TryParseIdempotencyKey(new StringValues(new string('k', 255)), out _));
        Assert.False(PurgeApiHost.TryParseIdempotencyKey(new StringValues(new string('k', 256)), out _));
        Assert.False(PurgeApiHost.TryParseIdempotencyKey(new StringValues(["a", "b"]), out _));
    }

    [Fact]
    public void The_window_and_the_limit_are_validated()
    {
        var errors = new PurgeApiOptions { IdempotencyWindow = TimeSpan.Zero, IdempotencyKeyLimit = 0 }.Validate().ToList();
        Assert.Contains("PurgeApi:IdempotencyWindow must be positive and at most 30 days.", errors);
        Assert.Contains("PurgeApi:IdempotencyKeyLimit must be positive.", errors);
    }
}
