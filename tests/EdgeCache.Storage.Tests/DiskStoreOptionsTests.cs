namespace EdgeCache.Storage.Tests;

/// <summary>The disk tier's settings: a small budget works without a second setting, and a wrong one says what is wrong.</summary>
public class DiskStoreOptionsTests
{
    [Fact]
    public void A_budget_under_1_GiB_is_valid_alone_and_caps_the_largest_object_at_a_quarter_of_it()
    {
        var options = new DiskStoreOptions { Directory = "/tmp/x", BudgetBytes = 512L * 1024 * 1024 };

        Assert.Null(options.Validate());
        Assert.Equal(128L * 1024 * 1024, options.MaxObjectBytes);
        Assert.Equal(256L * 1024 * 1024, new DiskStoreOptions { Directory = "/tmp/x" }.MaxObjectBytes);
    }

    [Fact]
    public void An_explicit_largest_object_over_a_quarter_of_the_budget_is_refused_with_both_numbers()
    {
        var options = new DiskStoreOptions { Directory = "/tmp/x", BudgetBytes = 512L * 1024 * 1024, MaxObjectBytes = 256L * 1024 * 1024 };

        Assert.Equal("MaxObjectBytes must be positive and at most a quarter of BudgetBytes (134217728; got 268435456)", options.Validate());
    }
}
