#define BOOST_TEST_MODULE dive
#include <boost/test/unit_test.hpp>
