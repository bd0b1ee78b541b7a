namespace EdgeCache.Engine.Tests;

public class SeenFilterTests
{
    [Fact]
    public void A_key_is_seen_once_added()
    {
        var filter = new SeenFilter(() => 4096);
        Assert.False(filter.Seen("https://a.example/1"));
        filter.Add("https://a.example/1");
        Assert.True(filter.Seen("https://a.example/1"));
        Assert.False(filter.Seen("https://a.example/2"));
    }

    [Fact]
    public void Few_new_keys_are_taken_for_seen_ones()
    {
        var filter = new SeenFilter(() => 200_000);
        for (var i = 0; i < 100_000; i++) filter.Add("https://a.example/old/" + i);
        var falseSeen = Enumerable.Range(0, 10_000).Count(i => filter.Seen("https://a.example/new/" + i));
        Assert.True(falseSeen < 500, $"{falseSeen} of 10,000 new keys were taken for seen ones");
    }

    [Theory]
    [InlineData(10, 4096)] // at least 4,096
    [InlineData(20_000, 20_000)]
    [InlineData(1_000_000, 131_072)] // at most an eighth of the bits
    public void The_filter_forgets_after_its_window_of_new_keys(int window, int effective)
    {
        // A new key the filter takes for a seen one (a false positive) does not count toward the window:
        // so the clear comes a few percent later than the window says.
        var filter = new SeenFilter(() => window);
        filter.Add("https://a.example/once");
        var i = 0;
        for (; i < effective * 9 / 10; i++) filter.Add("https://a.example/flood/" + i);
        Assert.True(filter.Seen("https://a.example/once"));
        for (; i < effective * 11 / 10; i++) filter.Add("https://a.example/flood/" + i);
        Assert.False(filter.Seen("https://a.example/once"));
    }
}
