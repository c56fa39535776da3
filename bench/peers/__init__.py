"""The systems linkcast is measured against: the prototype's approach and Scrapy, each run in its own process."""
