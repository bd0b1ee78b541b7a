using EdgeCache.Engine;

namespace EdgeCache.Storage.Tests;

public sealed class DiskStoreTests : IDisposable
{
    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(64 * 1024 - 1)]
    [InlineData(64 * 1024)]
    [InlineData(64 * 1024 + 1)]
    [InlineData(3 * 64 * 1024)]
    [InlineData(5 * 1024 * 1024 + 7)]
    public async Task Bodies_round_trip_on_and_around_chunk_boundaries(int length)
    {
        await using var store = Stores.Open(Stores.Small(_dir));
        var body = Stores.Bytes(length);
        await store.PutAsync("http://a/x", Stores.Response(body, extra: ("ETag", "\"e1\"")), CancellationToken.None);

        var complete = await store.GetAsync("http://a/x", Stores.NoHeaders, long.MaxValue, CancellationToken.None);
        Assert.NotNull(complete);
        Assert.True(complete.FromDisk);
        Assert.Equal("\"e1\"", complete.ETag);
        Assert.Equal(TimeSpan.FromSeconds(600), complete.FreshnessLifetime);
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/x"));
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/x", completeUpTo: 0)); // streamed
    }

    [Fact]
    public async Task A_partial_is_never_written_so_it_cannot_replace_a_complete_copy()
    {
        await using var store = Stores.Open(Stores.Small(_dir));
        var body = Stores.Bytes(100);
        await store.PutAsync("http://a/p", Stores.Response(body), CancellationToken.None);
        var now = DateTimeOffset.UtcNow;
        var partialHeaders = new Microsoft.AspNetCore.Http.HeaderDictionary { ["Cache-Control"] = "max-age=600", ["Content-Range"] = "bytes 0-9/100" };
        var partial = CachedResponseFactory.Create(206, partialHeaders, Stores.NoHeaders, CacheBody.FromBytes(body[..10]), now, now, HeuristicOptions.Default);
        Assert.True(partial.IsPartial);
        await store.PutAsync("http://a/p", partial, CancellationToken.None);
        await store.PutAsync("http://a/only-partial", partial, CancellationToken.None);

        var complete = await store.GetAsync("http://a/p", Stores.NoHeaders, long.MaxValue, CancellationToken.None);
        Assert.NotNull(complete);
        Assert.Equal(200, complete.StatusCode);
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/p"));
        Assert.Null(await store.GetAsync("http://a/only-partial", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
    }

    [Fact]
    public async Task A_graceful_stop_and_reopen_recovers_every_object()
    {
        var options = Stores.Small(_dir);
        var bodies = Enumerable.Range(0, 20).Select(i => Stores.Bytes(10_000 + i * 20_000, i)).ToArray();
        await using (var store = Stores.Open(options))
        {
            for (var i = 0; i < bodies.Length; i++) await store.PutAsync($"http://a/{i}", Stores.Response(bodies[i]), CancellationToken.None);
        }

        await using var reopened = Stores.Open(options);
        Assert.Equal(DiskOpenedAs.Recovered, reopened.OpenedAs);
        for (var i = 0; i < bodies.Length; i++) Assert.Equal(bodies[i], await Stores.GetBytes(reopened, $"http://a/{i}"));
    }

    [Fact]
    public async Task The_budget_holds_when_ten_times_the_budget_is_written()
    {
        var options = Stores.Small(_dir, budget: 40L * 1024 * 1024);
        await using var store = Stores.Open(options);
        var body = Stores.Bytes(1024 * 1024);
        for (var i = 0; i < 400; i++)
        {
            await store.PutAsync($"http://a/{i}", Stores.Response(body), CancellationToken.None);
            Assert.True(store.LogBytes <= options.BudgetBytes + 4L * 1024 * 1024, $"log {store.LogBytes} after {i}");
        }

        Assert.True(store.TruncatedBytes > 300L * 1024 * 1024);
        Assert.Null(await Stores.GetBytes(store, "http://a/0"));
        Assert.Equal(body, await Stores.GetBytes(store, "http://a/399"));
        var onDisk = Directory.EnumerateFiles(Path.Combine(_dir, "store", "hlog"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(onDisk <= options.BudgetBytes + 16L * 1024 * 1024, $"{onDisk} bytes of log files on disk");
    }
}
