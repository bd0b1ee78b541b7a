namespace EdgeCache.Engine;

/// <summary>How a disk store came up.</summary>
public enum DiskOpenedAs
{
    /// <summary>A new, empty store (there was none).</summary>
    New,

    /// <summary>Recovered from its last checkpoint.</summary>
    Recovered,

    /// <summary>An unusable store (another format, or one that could not be recovered) was set aside or wiped; this one starts empty.</summary>
    SetAside,
}

public static class DiskOpenedAsExtensions
{
    /// <summary>The lower-case word logs and pages print: <c>new</c>, <c>recovered</c>, <c>set-aside</c>.</summary>
    public static string ToWord(this DiskOpenedAs openedAs) => openedAs switch
    {
        DiskOpenedAs.New => "new",
        DiskOpenedAs.Recovered => "recovered",
        DiskOpenedAs.SetAside => "set-aside",
        _ => throw new ArgumentOutOfRangeException(nameof(openedAs), openedAs, null),
    };
}
