namespace EdgeCache.Engine.Tests;

public class DiskOpenedAsTests
{
    // Logs print these words; they were the strings OpenedAs held before it was an enum.
    [Theory]
    [InlineData(DiskOpenedAs.New, "new")]
    [InlineData(DiskOpenedAs.Recovered, "recovered")]
    [InlineData(DiskOpenedAs.SetAside, "set-aside")]
    public void Each_value_prints_as_the_lower_case_word_of_before(DiskOpenedAs openedAs, string word) =>
        Assert.Equal(word, openedAs.ToWord());

    [Fact]
    public void Every_value_has_a_word() =>
        Assert.All(Enum.GetValues<DiskOpenedAs>(), v => Assert.False(string.IsNullOrEmpty(v.ToWord())));
}
