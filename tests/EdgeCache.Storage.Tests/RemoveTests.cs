namespace EdgeCache.Storage.Tests;

/// <summary>What a remove (a purge) promises: once it returns, the object is gone for every later lookup.</summary>
public sealed class RemoveTests : IDisposable
{
    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_get_right_after_a_remove_misses()
    {
        await using var store = Stores.Open(Stores.Small(_dir));
        var body = Stores.Bytes(3 * 64 * 1024, seed: 71);
        var served = 0;
        for (var i = 0; i < 300; i++)
        {
            var key = $"http://a/purged/{i}";
            await store.PutAsync(key, Stores.Response(body), CancellationToken.None);
            await store.RemoveAsync(key, CancellationToken.None);
            if (await store.GetAsync(key, Stores.NoHeaders, long.MaxValue, CancellationToken.None) is not null) served++;
        }

        Assert.Equal(0, served);
    }

    [Fact]
    public async Task A_remove_survives_a_restart_and_a_second_remove_is_harmless()
    {
        var options = Stores.Small(_dir);
        var body = Stores.Bytes(100_000, seed: 72);
        await using (var store = Stores.Open(options))
        {
            await store.PutAsync("http://a/kept", Stores.Response(body), CancellationToken.None);
            await store.PutAsync("http://a/purged", Stores.Response(body), CancellationToken.None);
            await store.RemoveAsync("http://a/purged", CancellationToken.None);
            await store.RemoveAsync("http://a/purged", CancellationToken.None);
        }

        await using var reopened = Stores.Open(options);
        Assert.Null(await Stores.GetBytes(reopened, "http://a/purged"));
        Assert.Equal(body, await Stores.GetBytes(reopened, "http://a/kept"));
        Assert.Equal(0, reopened.Failures);
    }
}
